"""mod_xml_curl endpoints through the Flask test client: documents parsed back,
refusals without the secret or from another address, tenants kept apart."""

from __future__ import annotations

import base64
import dataclasses
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa

from app.extensions import Session, redis
from app.realtime import bus
from kamailio.subscribers import ha1, set_subscriber
from kamailio.tables import subscriber
from tenants.scoping import tenant_scope

SECRET = "xml-curl-test-secret"
DOMAIN = "sip.carillon.test"
NODE = {"REMOTE_ADDR": "10.20.0.5"}


@pytest.fixture()
def settings(app, monkeypatch):
    from app import runtime

    config = dataclasses.replace(runtime.current_config(), FREESWITCH_XMLCURL_SECRET=SECRET, SIP_DOMAIN=DOMAIN,
                                 FREESWITCH_XMLCURL_ALLOW="127.0.0.1/32, 10.20.0.0/24")
    monkeypatch.setitem(runtime._current, "config", config)
    return config


@pytest.fixture()
def agents(world, settings):
    """Each tenant's agent with a SIP account (Kamailio's subscriber table is outside the
    public schema the test teardown empties, so it is cleaned here)."""
    accounts = {}
    for key, tenant in (("a", world.a), ("b", world.b)):
        user = tenant.users["agent"]
        username = f"t{tenant.id}a{user.id}"
        set_subscriber(Session(), username, DOMAIN, f"pw-{key}")
        accounts[key] = (tenant.id, user, username)
    Session.commit()
    yield accounts
    Session.execute(sa.delete(subscriber).where(subscriber.c.domain == DOMAIN))
    Session.commit()
    for tenant_id, user, _ in accounts.values():
        redis().delete(bus.agent_key(tenant_id, user.id))


def auth(secret: str = SECRET, user: str = "freeswitch") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def post(client, path: str, form: dict, headers: dict | None = None, environ: dict | None = None):
    return client.post(path, data=form, headers=auth() if headers is None else headers,
                       environ_base=NODE if environ is None else environ)


def parse(response) -> ET.Element:
    assert response.status_code == 200 and response.mimetype == "text/xml"
    return ET.fromstring(response.data)


def not_found(response) -> bool:
    root = parse(response)
    return root.find("./section/result") is not None and root.find("./section/result").get("status") == "not found"


def test_directory_serves_an_agents_digest_with_its_tenant(client, agents):
    tenant_id, user, username = agents["a"]
    root = parse(post(client, "/freeswitch/directory",
                      {"section": "directory", "user": username, "domain": DOMAIN, "action": "sip_auth"}))
    domain = root.find("./section[@name='directory']/domain")
    assert domain.get("name") == DOMAIN
    element = domain.find("./groups/group/users/user")
    assert element.get("id") == username
    params = {p.get("name"): p.get("value") for p in element.findall("./params/param")}
    assert params == {"a1-hash": ha1(username, DOMAIN, "pw-a")}
    variables = {v.get("name"): v.get("value") for v in element.findall("./variables/variable")}
    assert variables["user_context"] == f"tenant-{tenant_id}"
    assert variables["carillon_tenant_id"] == str(tenant_id)
    assert variables["carillon_agent_id"] == str(user.id)
    assert variables["effective_caller_id_name"] == user.display_name


def test_directory_never_crosses_tenants_or_domains(client, world, agents):
    _, user_a, username_a = agents["a"]
    tenant_b, _, _ = agents["b"]
    for form in (
        {"user": f"t{tenant_b}a{user_a.id}", "domain": DOMAIN},  # A's agent claimed for tenant B
        {"user": username_a, "domain": "other.example"},
        {"user": "t999a1", "domain": DOMAIN},
        {"user": "alice", "domain": DOMAIN},
        {"user": "", "domain": DOMAIN},
    ):
        assert not_found(post(client, "/freeswitch/directory", {"section": "directory", **form})), form


def test_refused_without_the_secret(client, agents):
    _, _, username = agents["a"]
    form = {"section": "directory", "user": username, "domain": DOMAIN}
    for headers in ({}, auth("wrong"), auth(SECRET, user="admin"), {"Authorization": "Bearer " + SECRET}):
        response = post(client, "/freeswitch/directory", form, headers=headers)
        assert response.status_code == 401 and b"a1-hash" not in response.data
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert post(client, "/freeswitch/dialplan", {"section": "dialplan"}, headers={}).status_code == 401


def test_refused_from_an_address_not_allowed_even_with_the_secret(client, agents):
    _, _, username = agents["a"]
    form = {"section": "directory", "user": username, "domain": DOMAIN}
    for address in ("10.20.1.5", "192.0.2.7", "::1"):
        response = post(client, "/freeswitch/directory", form, environ={"REMOTE_ADDR": address})
        assert response.status_code == 403 and b"a1-hash" not in response.data, address
    assert post(client, "/freeswitch/directory", form, environ={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def test_no_configured_secret_refuses_everything(client, agents, monkeypatch):
    from app import runtime

    monkeypatch.setitem(runtime._current, "config",
                        dataclasses.replace(runtime.current_config(), FREESWITCH_XMLCURL_SECRET=""))
    response = post(client, "/freeswitch/directory", {"section": "directory"}, headers=auth(""))
    assert response.status_code == 401


def test_each_endpoint_answers_its_own_section_only(client, agents):
    _, _, username = agents["a"]
    assert not_found(post(client, "/freeswitch/dialplan", {"section": "directory", "user": username,
                                                          "domain": DOMAIN}))


def _dialplan(client, tenant_id: int, destination: str, caller_tenant: int, agent_id: int):
    return post(client, "/freeswitch/dialplan", {
        "section": "dialplan", "Hunt-Context": f"tenant-{tenant_id}", "Hunt-Destination-Number": destination,
        "variable_carillon_tenant_id": str(caller_tenant), "variable_carillon_agent_id": str(agent_id),
    })


def _actions(root: ET.Element) -> list[tuple[str, str]]:
    return [(a.get("application"), a.get("data")) for a in root.iter("action")]


def test_agent_login_parks_the_agent_in_its_conference(client, agents):
    tenant_id, user, _ = agents["a"]
    root = parse(_dialplan(client, tenant_id, "login", tenant_id, user.id))
    context = root.find("./section[@name='dialplan']/context")
    assert context.get("name") == f"tenant-{tenant_id}"
    assert ("conference", f"agent-{tenant_id}-{user.id}@default+flags{{endconf}}") in _actions(root)
    tenant_b, user_b, _ = agents["b"]
    # a channel of tenant B naming tenant A's context gets nothing
    assert not_found(_dialplan(client, tenant_id, "login", tenant_b, user_b.id))


def test_manual_outbound_call_leaves_through_kamailio_with_the_campaign_number(client, world, agents):
    from app.campaigns.services import create_campaign

    tenant_id, user, _ = agents["a"]
    with tenant_scope(tenant_id):
        campaign = create_campaign("Sortants", {"dial_mode": "PROGRESSIF", "caller_id": "+33162000001"})
        Session.commit()
    # not logged into a campaign: no presented number, no call
    assert not_found(_dialplan(client, tenant_id, "+33612345678", tenant_id, user.id))
    redis().hset(bus.agent_key(tenant_id, user.id), mapping={"campaign_id": campaign.id, "state": "ready"})
    actions = _actions(parse(_dialplan(client, tenant_id, "+33612345678", tenant_id, user.id)))
    assert ("set", "effective_caller_id_number=+33162000001") in actions
    assert ("bridge", "sofia/gateway/kamailio/+33612345678") in actions
    # tenant B's agent whose state names tenant A's campaign gets nothing
    tenant_b, user_b, _ = agents["b"]
    redis().hset(bus.agent_key(tenant_b, user_b.id), mapping={"campaign_id": campaign.id, "state": "ready"})
    assert not_found(_dialplan(client, tenant_b, "+33612345678", tenant_b, user_b.id))


def test_inbound_numbers_are_not_routed_yet(client, agents):
    response = post(client, "/freeswitch/dialplan", {"section": "dialplan", "Hunt-Context": "public",
                                                    "Hunt-Destination-Number": "+33170000001"})
    assert not_found(response)
