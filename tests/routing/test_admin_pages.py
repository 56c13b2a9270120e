"""Carrier, trunk and media node edit pages: create, edit, disable; bad input shows
its error and writes nothing; the trunk password never reaches a page or the audit
log; changes are audited and reach Kamailio's tables through the routing sync;
platform administrators only."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.extensions import Session
from app.telephony_http import tasks
from kamailio import tables as kt
from telephony.routing import admin
from telephony.routing.models import Carrier, CarrierRate, MediaNode, Trunk
from telephony.routing.services import write_kamailio_tables
from tenants.scoping import unscoped
from tests.factories import csrf_from, login

SECRET = "s3cr3t-Trunk-pw"
BASE = "/platform/telephony"


@pytest.fixture()
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.sync_kamailio_routing, "send_with_options", lambda **kw: sent.append(kw))
    return sent


@pytest.fixture()
def clean(db):
    yield
    Session.rollback()
    for table in (kt.lcr_rule_target, kt.lcr_rule, kt.lcr_gw, kt.dispatcher, kt.htable):
        Session.execute(sa.delete(table))
    Session.execute(sa.delete(Carrier))
    Session.execute(sa.delete(MediaNode))
    Session.commit()


@pytest.fixture()
def admin_client(client, world, clean):
    assert login(client, world.platform_admin.email, world.password).status_code == 302
    return client


def _token(client, url: str) -> str:
    return csrf_from(client.get(url).get_data(as_text=True))


def _trunk_form(token: str, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {"csrf_token": token, "name": "sbc-paris", "host": "sip.example.net", "port": "5060",
                               "transport": "udp", "codecs": ["PCMA", "G729"], "channel_limit": "40",
                               "full_cli": "y", "enabled": "y", "weight": "1", "strip_digits": "0",
                               "tech_prefix": "", "username": "carillon", "password": SECRET}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _count(model) -> int:
    return Session.scalar(sa.select(sa.func.count()).select_from(model))


def _audit(action: str) -> list[AuditEvent]:
    with unscoped():
        events = list(Session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)
                                      .order_by(AuditEvent.id)))
    return events


def test_create_edit_and_disable_a_trunk_reaches_kamailios_tables(admin_client, queued):
    client = admin_client
    token = _token(client, f"{BASE}/carriers/new")
    assert client.post(f"{BASE}/carriers/new", data={"csrf_token": token, "name": "Opérateur Beta",
                                                     "enabled": "y"}).status_code == 302
    carrier = Session.scalar(sa.select(Carrier).where(Carrier.name == "Opérateur Beta"))
    page = client.get(f"{BASE}/carriers/{carrier.id}/trunks/new")
    assert page.status_code == 200 and 'name="password"' in page.get_data(as_text=True)
    saved = client.post(f"{BASE}/carriers/{carrier.id}/trunks/new", data=_trunk_form(token))
    assert saved.status_code == 302
    trunk = Session.scalar(sa.select(Trunk).where(Trunk.carrier_id == carrier.id))
    assert (trunk.host, trunk.port, trunk.codecs, trunk.channel_limit, trunk.full_cli, trunk.username,
            trunk.password) == ("sip.example.net", 5060, ["PCMA", "G729"], 40, True, "carillon", SECRET)
    assert queued, "a committed routing change queues the Kamailio sync"

    # the password is never echoed: not on the list, not in the edit form, not in the audit
    listing = client.get(f"{BASE}/").get_data(as_text=True)
    edit = client.get(f"{BASE}/trunks/{trunk.id}/edit").get_data(as_text=True)
    assert "sbc-paris" in listing and SECRET not in listing
    assert 'value="sip.example.net"' in edit and SECRET not in edit and "A password is stored" in edit
    created = _audit("routing.trunk_created")
    assert created and created[-1].details["credentials_changed"] is True
    assert SECRET not in str([e.details for e in _audit("routing.trunk_created")])

    # an edit with an empty password keeps it; Kamailio's tables follow the trunk
    Session.add(CarrierRate(carrier_id=carrier.id, prefix="33", rate_per_minute=0.01))
    Session.commit()
    assert client.post(f"{BASE}/trunks/{trunk.id}/edit",
                       data=_trunk_form(token, port="5080", password="")).status_code == 302
    Session.expire_all()
    trunk = Session.get(Trunk, trunk.id)
    assert (trunk.port, trunk.password) == (5080, SECRET)
    write_kamailio_tables(Session())
    assert Session.execute(sa.select(kt.lcr_gw.c.hostname, kt.lcr_gw.c.port)).all() == [("sip.example.net", 5080)]
    assert SECRET in {row.key_value for row in Session.execute(sa.select(kt.htable))}
    Session.commit()

    # disable: untick "Enabled" → the gateway and its credentials leave Kamailio's tables
    assert client.post(f"{BASE}/trunks/{trunk.id}/edit",
                       data=_trunk_form(token, port="5080", enabled=None, password="")).status_code == 302
    Session.expire_all()
    assert Session.get(Trunk, trunk.id).enabled is False
    write_kamailio_tables(Session())
    assert Session.execute(sa.select(kt.lcr_gw)).all() == []
    assert Session.execute(sa.select(kt.htable)).all() == []
    Session.commit()
    changed = _audit("routing.trunk_changed")[-1].details
    assert changed["changed"] == ["enabled"] and changed["enabled"] is False

    # removing the credentials
    assert client.post(f"{BASE}/trunks/{trunk.id}/edit",
                       data=_trunk_form(token, username="", password="", clear_credentials="y")).status_code == 302
    Session.expire_all()
    assert (Session.get(Trunk, trunk.id).username, Session.get(Trunk, trunk.id).password) == (None, None)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("host", "999.1.1.1", "Not a valid IPv4 address."),
    ("host", "bad host!", "Not an IP address or a host name."),
    ("host", "", "This field is required."),
    ("port", "70000", "A port between 1 and 32767."),
    ("port", "0", "A port between 1 and 32767."),
    ("port", "abc", "Not a valid integer value."),
    ("transport", "sctp", "Not a valid choice."),
    ("codecs", [], "Choose at least one codec."),
    ("channel_limit", "0", "A positive number, or empty for unlimited."),
    ("weight", "300", "Between 1 and 254."),
    ("tech_prefix", "12a", "Digits, # and * only, at most 16."),
    ("password", "", "A password goes with the user name."),
])
def test_bad_trunk_input_is_refused_and_writes_nothing(admin_client, queued, field, value, message):
    client = admin_client
    carrier = Carrier(name="Opérateur Gamma")
    Session.add(carrier)
    Session.commit()
    queued.clear()
    token = _token(client, f"{BASE}/carriers/{carrier.id}/trunks/new")
    refused = client.post(f"{BASE}/carriers/{carrier.id}/trunks/new", data=_trunk_form(token, **{field: value}))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert message in html and 'aria-invalid="true"' in html
    assert SECRET not in html  # not even echoed back after an error
    assert _count(Trunk) == 0 and queued == []


def test_duplicate_names_and_bad_nodes_are_refused(admin_client, queued):
    client = admin_client
    token = _token(client, f"{BASE}/nodes/new")
    good = {"csrf_token": token, "name": "fs1", "host": "10.0.0.5", "sip_port": "5080", "transport": "udp",
            "weight": "10", "enabled": "y"}
    assert client.post(f"{BASE}/nodes/new", data=good).status_code == 302
    for change, message in (({"name": "fs1"}, "Another media node has this name."),
                            ({"name": "fs2", "host": "300.0.0.1"}, "Not a valid IPv4 address."),
                            ({"name": "fs2", "sip_port": "65536"}, "A port between 1 and 65535."),
                            ({"name": "fs2", "weight": "0"}, "Between 1 and 100.")):
        refused = client.post(f"{BASE}/nodes/new", data={**good, **change})
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    assert _count(MediaNode) == 1
    node = Session.scalar(sa.select(MediaNode))
    assert client.post(f"{BASE}/nodes/{node.id}/edit",
                       data={**good, "enabled": "", "weight": "20"}).status_code == 302
    Session.expire_all()
    node = Session.get(MediaNode, node.id)
    assert (node.enabled, node.weight) == (False, 20)
    assert _audit("routing.media_node_changed")[-1].details["changed"] == ["weight", "enabled"]
    # carriers: duplicate name refused
    for name in ("Opérateur Delta", "Opérateur Delta"):
        client.post(f"{BASE}/carriers/new", data={"csrf_token": token, "name": name, "enabled": "y"})
    assert _count(Carrier) == 1
    refused = client.post(f"{BASE}/carriers/new", data={"csrf_token": token, "name": "Opérateur Delta"})
    assert refused.status_code == 422 and "Another carrier has this name." in refused.get_data(as_text=True)


def test_unknown_rows_are_404(admin_client):
    for url in (f"{BASE}/carriers/999999/edit", f"{BASE}/carriers/999999/trunks/new",
                f"{BASE}/trunks/999999/edit", f"{BASE}/nodes/999999/edit"):
        assert admin_client.get(url).status_code == 404


@pytest.mark.parametrize("role", ["admin", "manager", "agent"])
def test_tenant_users_may_not_edit_routing(client, world, clean, role):
    carrier = Carrier(name="Opérateur Epsilon")
    carrier.trunks.append(Trunk(name="eps", host="192.0.2.9", port=5060))
    Session.add(carrier)
    Session.commit()
    trunk_id = carrier.trunks[0].id
    assert login(client, f"{role}@alpha-appels.fr", world.password).status_code == 302
    token = csrf_from(client.get("/", follow_redirects=True).get_data(as_text=True))
    for url in (f"{BASE}/carriers/new", f"{BASE}/carriers/{carrier.id}/edit",
                f"{BASE}/carriers/{carrier.id}/trunks/new", f"{BASE}/trunks/{trunk_id}/edit", f"{BASE}/nodes/new"):
        assert client.get(url).status_code == 403
        assert client.post(url, data={"csrf_token": token, "name": "x", "host": "1.2.3.4"}).status_code == 403
    Session.expire_all()
    assert Session.get(Trunk, trunk_id).host == "192.0.2.9" and _count(Carrier) == 1


def test_check_host_accepts_addresses_and_names():
    for good in ("192.0.2.1", "2001:db8::1", "sip.example.net", "sbc-1.carrier.fr.", "localhost"):
        assert admin.check_host(good) is None, good
    for bad in ("", "1.2.3", "256.1.1.1", "-bad.example", "a b", "x" * 65, "sip.example.net:5060"):
        assert admin.check_host(bad) is not None, bad
