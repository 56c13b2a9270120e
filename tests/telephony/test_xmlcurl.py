"""mod_xml_curl documents: rendered, parsed back with xml.etree, and checked."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import pytest

from telephony.freeswitch import xmlcurl
from telephony.freeswitch.xmlcurl import (
    DidRoute,
    IvrMenu,
    IvrOption,
    QueueRoute,
    SipUser,
    check_basic_auth,
    handle_xml_curl,
)

ALICE = SipUser(
    tenant_id=7,
    agent_id=42,
    username="alice",
    domain="t7.carillon.test",
    a1_hash="0123456789abcdef0123456789abcdef",
    display_name="Alice <Martin> & Co",
)
BOB = SipUser(tenant_id=8, agent_id=43, username="alice", domain="t8.carillon.test", password="s3cret")
MENU = IvrMenu(
    tenant_id=7,
    ivr_id=3,
    greeting="/var/lib/carillon/prompts/7/menu.wav",
    options=(
        IvrOption("1", "queue", "5"),
        IvrOption("2", "ivr", "4"),
        IvrOption("#", "external", "+33612345678"),
    ),
    timeout_option=IvrOption("", "queue", "5"),
)


@dataclass
class Lookup:
    """Two tenants' data, as the application would serve it."""

    users: dict[tuple[str, str], SipUser] = field(
        default_factory=lambda: {(u.domain, u.username): u for u in (ALICE, BOB)}
    )
    dids: dict[str, DidRoute] = field(
        default_factory=lambda: {
            "+33170000001": DidRoute(7, "+33170000001", "queue", 5),
            "+33170000002": DidRoute(8, "+33170000002", "ivr", 9),
        }
    )

    def sip_user(self, domain: str, username: str) -> SipUser | None:
        return self.users.get((domain, username))

    def did_route(self, did: str) -> DidRoute | None:
        return self.dids.get(did)

    def queue(self, tenant_id: int, queue_id: int) -> QueueRoute | None:
        return QueueRoute(7, 5) if (tenant_id, queue_id) == (7, 5) else None

    def ivr_menu(self, tenant_id: int, ivr_id: int) -> IvrMenu | None:
        return MENU if (tenant_id, ivr_id) == (7, 3) else None

    def outbound_caller_id(self, tenant_id: int, agent_id: int) -> str | None:
        return "+33170000001" if tenant_id == 7 else None


def _parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.split("\n", 1)[1])
    assert root.tag == "document" and root.get("type") == "freeswitch/xml"
    return root


def _actions(text: str) -> list[tuple[str, str]]:
    root = _parse(text)
    return [(a.get("application", ""), a.get("data", "")) for a in root.iter("action")]


def _is_not_found(text: str) -> bool:
    result = _parse(text).find("./section[@name='result']/result")
    return result is not None and result.get("status") == "not found"


def _agent_form(tenant: str, agent: str, destination: str, context: str | None = None) -> dict[str, str]:
    return {
        "section": "dialplan",
        "Hunt-Context": context or f"tenant-{tenant}",
        "Hunt-Destination-Number": destination,
        "variable_carillon_tenant_id": tenant,
        "variable_carillon_agent_id": agent,
    }


def test_directory_user_with_a1_hash_and_escaped_name() -> None:
    text = handle_xml_curl(
        {"section": "directory", "action": "sip_auth", "user": "alice", "domain": "t7.carillon.test"},
        Lookup(),
    )
    root = _parse(text)
    domain = root.find("./section[@name='directory']/domain")
    assert domain is not None and domain.get("name") == "t7.carillon.test"
    user = domain.find("./groups/group/users/user")
    assert user is not None and user.get("id") == "alice"
    params = {p.get("name"): p.get("value") for p in user.iter("param")}
    assert params == {"a1-hash": ALICE.a1_hash}
    variables = {v.get("name"): v.get("value") for v in user.iter("variable")}
    assert variables["user_context"] == "tenant-7"
    assert (variables["carillon_tenant_id"], variables["carillon_agent_id"]) == ("7", "42")
    assert variables["effective_caller_id_name"] == "Alice <Martin> & Co"  # escaped, parsed back intact


def test_directory_is_per_tenant_domain() -> None:
    text = handle_xml_curl({"section": "directory", "user": "alice", "domain": "t8.carillon.test"}, Lookup())
    user = _parse(text).find(".//user")
    assert user is not None
    assert {p.get("name"): p.get("value") for p in user.iter("param")} == {"password": "s3cret"}
    assert {v.get("name"): v.get("value") for v in user.iter("variable")}["user_context"] == "tenant-8"
    assert _is_not_found(
        handle_xml_curl({"section": "directory", "user": "alice", "domain": "t9.carillon.test"}, Lookup())
    )
    assert _is_not_found(handle_xml_curl({"section": "directory"}, Lookup()))


def test_user_without_credentials_is_refused() -> None:
    with pytest.raises(ValueError):
        xmlcurl.render_directory(SipUser(7, 1, "x", "t7.carillon.test"))


def test_agent_login_parks_the_agent_in_its_conference() -> None:
    text = handle_xml_curl(_agent_form("7", "42", "login"), Lookup())
    root = _parse(text)
    context = root.find("./section[@name='dialplan']/context")
    assert context is not None and context.get("name") == "tenant-7"
    condition = root.find(".//condition")
    assert (
        condition is not None
        and condition.get("field") == "destination_number"
        and condition.get("expression") == "^login$"
    )
    assert _actions(text)[-2:] == [("answer", ""), ("conference", "agent-7-42@default+flags{endconf}")]


def test_agent_of_another_tenant_gets_nothing() -> None:
    # Tenant 8's agent naming tenant 7's context must not reach tenant 7's routes.
    assert _is_not_found(handle_xml_curl(_agent_form("8", "43", "login", context="tenant-7"), Lookup()))
    assert _is_not_found(
        handle_xml_curl(_agent_form("8", "43", "+33612345678", context="tenant-7"), Lookup())
    )


def test_inbound_did_goes_to_its_tenant_queue_or_ivr() -> None:
    form = {"section": "dialplan", "Caller-Context": "public", "Caller-Destination-Number": "+33170000001"}
    text = handle_xml_curl(form, Lookup())
    assert _parse(text).find(".//context").get("name") == "public"  # type: ignore[union-attr]
    assert _parse(text).find(".//condition").get("expression") == r"^\+33170000001$"  # type: ignore[union-attr]
    assert _actions(text) == [
        ("set", "carillon_tenant_id=7"),
        ("set", "carillon_did=+33170000001"),
        ("set", "carillon_did_open=true"),
        ("transfer", "queue-5 XML tenant-7"),
    ]
    other = handle_xml_curl({**form, "Caller-Destination-Number": "+33170000002"}, Lookup())
    assert _actions(other)[-1] == ("transfer", "ivr-9 XML tenant-8")
    assert _is_not_found(handle_xml_curl({**form, "Caller-Destination-Number": "+33999"}, Lookup()))


def test_queue_extension_plays_hold_music() -> None:
    form = {"section": "dialplan", "Caller-Context": "tenant-7", "Caller-Destination-Number": "queue-5"}
    assert _actions(handle_xml_curl(form, Lookup())) == [
        ("set", "carillon_tenant_id=7"),
        ("set", "carillon_queue_id=5"),
        ("set", "carillon_call_id=${uuid}"),
        ("answer", ""),
        ("endless_playback", "local_stream://moh"),
        ("park", ""),
    ]
    assert _is_not_found(handle_xml_curl({**form, "Caller-Context": "tenant-8"}, Lookup()))


def test_ivr_menu_and_its_choices() -> None:
    form = {"section": "dialplan", "Caller-Context": "tenant-7", "Caller-Destination-Number": "ivr-3"}
    actions = _actions(handle_xml_curl(form, Lookup()))
    prompt = dict(actions)["play_and_get_digits"].split(" ")
    assert prompt[:5] == ["1", "1", "3", "5000", "#"]
    assert prompt[5] == MENU.greeting and prompt[7] == "carillon_ivr_choice" and prompt[8] == r"^[12\#]$"
    assert actions[-1] == ("transfer", "ivr-3-${carillon_ivr_choice} XML tenant-7")
    choice = {**form, "Caller-Destination-Number": "ivr-3-2"}
    assert _actions(handle_xml_curl(choice, Lookup())) == [("transfer", "ivr-4 XML tenant-7")]
    hash_key = {**form, "Caller-Destination-Number": "ivr-3-#"}
    assert _actions(handle_xml_curl(hash_key, Lookup())) == [
        ("set", "hangup_after_bridge=true"),
        ("bridge", "sofia/gateway/kamailio/+33612345678"),
    ]
    no_key = {**form, "Caller-Destination-Number": "ivr-3-"}
    assert _actions(handle_xml_curl(no_key, Lookup())) == [("transfer", "queue-5 XML tenant-7")]
    assert _is_not_found(handle_xml_curl({**form, "Caller-Destination-Number": "ivr-3-9"}, Lookup()))


def test_agent_outbound_call_goes_to_kamailio_with_the_presented_number() -> None:
    actions = _actions(handle_xml_curl(_agent_form("7", "42", "+33612345678"), Lookup()))
    assert ("set", "effective_caller_id_number=+33170000001") in actions
    assert actions[-1] == ("bridge", "sofia/gateway/kamailio/+33612345678")
    assert _is_not_found(handle_xml_curl(_agent_form("7", "42", "12; rm -rf"), Lookup()))


def test_conference_link_between_nodes() -> None:
    form = {
        "section": "dialplan",
        "Caller-Context": "interconnect",
        "Caller-Destination-Number": "agent-7-42",
    }
    assert _actions(handle_xml_curl(form, Lookup())) == [("answer", ""), ("conference", "agent-7-42@default")]
    assert _is_not_found(handle_xml_curl({**form, "Caller-Destination-Number": "9999"}, Lookup()))


def test_other_sections_and_unknown_contexts_are_not_found() -> None:
    assert _is_not_found(handle_xml_curl({"section": "configuration", "key_value": "sofia.conf"}, Lookup()))
    assert _is_not_found(
        handle_xml_curl(
            {"section": "dialplan", "Caller-Context": "default", "Caller-Destination-Number": "1000"},
            Lookup(),
        )
    )


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def test_shared_secret_check() -> None:
    assert check_basic_auth(_basic("freeswitch", "k3y:with:colons"), "freeswitch", "k3y:with:colons")
    assert not check_basic_auth(_basic("freeswitch", "wrong"), "freeswitch", "k3y")
    assert not check_basic_auth(_basic("other", "k3y"), "freeswitch", "k3y")
    assert not check_basic_auth("Bearer abc", "freeswitch", "k3y")
    assert not check_basic_auth("Basic !!!notbase64", "freeswitch", "k3y")
    assert not check_basic_auth(None, "freeswitch", "k3y")
    assert not check_basic_auth(_basic("freeswitch", ""), "freeswitch", "")  # no secret configured: refuse
