"""The inbound dialplan served to mod_xml_curl, from the tenant's DIDs, menus and
queues: documents rendered by the real endpoint (shared secret, allowed source)
and parsed back; the queue entry tells the dialer service through Redis."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import uuid
import xml.etree.ElementTree as ET

import pytest

from app.extensions import Session
from app.inbound import services
from app.inbound.models import DestinationKind
from app.inbound.services import Destination, OptionSpec
from app.realtime import bus
from tenants.scoping import tenant_scope
from tests.inbound.conftest import make_queue

SECRET = "xml-curl-inbound-secret"
DOMAIN = "sip.carillon.test"
NODE = {"REMOTE_ADDR": "10.20.0.5"}
AUTH = {"Authorization": "Basic " + base64.b64encode(f"freeswitch:{SECRET}".encode()).decode()}


@pytest.fixture()
def settings(app, monkeypatch):
    from app import runtime

    config = dataclasses.replace(runtime.current_config(), FREESWITCH_XMLCURL_SECRET=SECRET, SIP_DOMAIN=DOMAIN,
                                 FREESWITCH_XMLCURL_ALLOW="10.20.0.0/24")
    monkeypatch.setitem(runtime._current, "config", config)
    return config


@dataclasses.dataclass
class Plan:
    tenant_id: int
    queue_id: int
    ivr_id: int
    agent_id: int


@pytest.fixture()
def plan(world, settings):
    """Tenant A: +33170000001 → IVR (1 → queue, 2 → agent, 9 → external, no key → message),
    always open; +33170000002 → queue, open Monday to Friday 09:00-18:00 with the French
    public holidays, closed → message. Tenant B: +33180000001 → its own queue."""
    out = {}
    with tenant_scope(world.a.id):
        queue = make_queue("Accueil", [], announce_position=True, hold_music="local_stream://moh")
        agent = world.a.users["agent"]
        menu = services.save_ivr(None, "Standard", {"greeting_audio": "carillon/accueil.wav", "timeout_s": 4,
                                                     "max_retries": 2}, Destination(DestinationKind.MESSAGE, None,
                                                                                   "carillon/au-revoir.wav"), [
            OptionSpec("1", "Service client", Destination(DestinationKind.QUEUE, queue.id)),
            OptionSpec("2", "Standard", Destination(DestinationKind.AGENT, agent.id)),
            OptionSpec("9", "Urgences", Destination(DestinationKind.EXTERNAL, None, "+33145000000")),
        ])
        services.save_did(None, "+33170000001", {"label": "Standard"}, Destination(DestinationKind.IVR, menu.id), None)
        services.save_did(None, "01 70 00 00 02", {
            "hours": services.parse_hours(["09:00-18:00"] * 5 + ["", ""]), "holiday_country": "FR"},
            Destination(DestinationKind.QUEUE, queue.id), Destination(DestinationKind.MESSAGE, None,
                                                                      "carillon/ferme.wav"))
        out["a"] = Plan(world.a.id, queue.id, menu.id, agent.id)
        Session.commit()
    with tenant_scope(world.b.id):
        queue_b = make_queue("Accueil B", [])
        services.save_did(None, "+33180000001", {}, Destination(DestinationKind.QUEUE, queue_b.id), None)
        out["b"] = Plan(world.b.id, queue_b.id, 0, world.b.users["agent"].id)
        Session.commit()
    return out


def _fetch(client, context: str, destination: str, **extra) -> ET.Element:
    form = {"section": "dialplan", "Hunt-Context": context, "Hunt-Destination-Number": destination, **extra}
    response = client.post("/freeswitch/dialplan", data=form, headers=AUTH, environ_base=NODE)
    assert response.status_code == 200 and response.mimetype == "text/xml"
    return ET.fromstring(response.data)


def _actions(document: ET.Element) -> list[tuple[str, str]]:
    return [(a.get("application"), a.get("data", "")) for a in document.iter("action")]


def _not_found(document: ET.Element) -> bool:
    result = document.find(".//result")
    return result is not None and result.get("status") == "not found"


def _at(monkeypatch, when: dt.datetime) -> None:
    import app.telephony_http.lookup as lookup

    monkeypatch.setattr(lookup, "utcnow", lambda: when)


MONDAY_10H = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)  # 10:00 in Paris
MONDAY_20H = dt.datetime(2026, 11, 30, 19, 0, tzinfo=dt.UTC)
CHRISTMAS_10H = dt.datetime(2026, 12, 25, 9, 0, tzinfo=dt.UTC)  # a Friday, public holiday


def test_did_to_ivr_and_the_menu_with_its_keys(client, plan, monkeypatch):
    _at(monkeypatch, MONDAY_20H)
    a = plan["a"]
    did = _fetch(client, "public", "+33170000001")
    assert did.find(".//context").get("name") == "public"
    assert _actions(did)[-1] == ("transfer", f"ivr-{a.ivr_id} XML tenant-{a.tenant_id}")
    menu = _actions(_fetch(client, f"tenant-{a.tenant_id}", f"ivr-{a.ivr_id}"))
    prompt = dict(menu)["play_and_get_digits"].split(" ")
    assert prompt[:5] == ["1", "1", "2", "4000", "#"]  # one key, 2 tries, 4 s
    assert prompt[5] == "carillon/accueil.wav" and prompt[8] == r"^[129]$"
    assert menu[-1] == ("transfer", f"ivr-{a.ivr_id}-${{carillon_ivr_choice}} XML tenant-{a.tenant_id}")
    context = f"tenant-{a.tenant_id}"
    assert _actions(_fetch(client, context, f"ivr-{a.ivr_id}-1")) == [
        ("transfer", f"queue-{a.queue_id} XML {context}")]
    assert _actions(_fetch(client, context, f"ivr-{a.ivr_id}-2")) == [("transfer", f"agent-{a.agent_id} XML {context}")]
    assert _actions(_fetch(client, context, f"ivr-{a.ivr_id}-9"))[-1] == (
        "bridge", "sofia/gateway/kamailio/+33145000000")
    # no key (or only wrong keys) after the tries: the timeout destination
    assert _actions(_fetch(client, context, f"ivr-{a.ivr_id}-")) == [
        ("answer", ""), ("playback", "carillon/au-revoir.wav"), ("hangup", "NORMAL_CLEARING")]
    assert _not_found(_fetch(client, context, f"ivr-{a.ivr_id}-5"))  # a key the menu does not offer
    agent = _actions(_fetch(client, context, f"agent-{a.agent_id}"))
    assert agent[-1] == ("bridge", f"user/t{a.tenant_id}a{a.agent_id}@{DOMAIN}")


def test_opening_hours_weekday_evening_and_public_holiday(client, plan, monkeypatch):
    a = plan["a"]
    _at(monkeypatch, MONDAY_10H)
    open_now = _actions(_fetch(client, "public", "+33170000002"))
    assert ("set", "carillon_did_open=true") in open_now
    assert open_now[-1] == ("transfer", f"queue-{a.queue_id} XML tenant-{a.tenant_id}")
    for closed_at in (MONDAY_20H, CHRISTMAS_10H):
        _at(monkeypatch, closed_at)
        closed = _actions(_fetch(client, "public", "+33170000002"))
        assert ("set", "carillon_did_open=false") in closed
        assert closed[-2:] == [("playback", "carillon/ferme.wav"), ("hangup", "NORMAL_CLEARING")]


def test_queue_entry_announces_position_and_tells_the_dialer(client, plan):
    a = plan["a"]
    channel = str(uuid.uuid4())
    bus.pop_inbound_arrivals(a.queue_id)
    document = _fetch(client, f"tenant-{a.tenant_id}", f"queue-{a.queue_id}", **{
        "Unique-ID": channel, "Caller-Caller-ID-Number": "+33612345678", "variable_carillon_did": "+33170000002",
        "FreeSWITCH-IPv4": "10.20.0.5"})
    actions = _actions(document)
    assert actions[:3] == [("set", f"carillon_tenant_id={a.tenant_id}"), ("set", f"carillon_queue_id={a.queue_id}"),
                           ("set", "carillon_call_id=${uuid}")]
    assert ("say", "fr number pronounced 1") in actions
    assert actions[-2:] == [("endless_playback", "local_stream://moh"), ("park", "")]
    assert bus.pop_inbound_arrivals(a.queue_id) == [{
        "call_id": channel, "channel": channel, "tenant_id": a.tenant_id, "queue_id": a.queue_id,
        "caller": "+33612345678", "did": "+33170000002", "host": "10.20.0.5", "lead_id": None,
        "transferred_from": ""}]


def test_a_customer_handed_to_the_queue_keeps_the_call_id_the_dialer_gave_it(client, plan):
    """An agent's transfer to a queue on FreeSWITCH: the dialer set carillon_call_id (a
    new call), carillon_transferred_from, carillon_caller (the customer's number; the
    channel's caller id is the campaign's presented number) before ``uuid_transfer``.
    The queue extension must not reset the call id to the channel uuid, and the arrival
    names the new call, the channel, the lead and the original call."""
    a = plan["a"]
    channel, new_call, original = (str(uuid.uuid4()) for _ in range(3))
    bus.pop_inbound_arrivals(a.queue_id)
    document = _fetch(client, f"tenant-{a.tenant_id}", f"queue-{a.queue_id}", **{
        "Unique-ID": channel, "Caller-Caller-ID-Number": "+33162000000", "variable_carillon_call_id": new_call,
        "variable_carillon_transferred_from": original, "variable_carillon_caller": "+33612340000",
        "variable_carillon_lead_id": "42", "FreeSWITCH-IPv4": "10.20.0.5"})
    actions = _actions(document)
    assert ("set", "carillon_call_id=${uuid}") not in actions
    assert actions[:3] == [("set", f"carillon_tenant_id={a.tenant_id}"), ("set", f"carillon_queue_id={a.queue_id}"),
                           ("answer", "")]
    assert bus.pop_inbound_arrivals(a.queue_id) == [{
        "call_id": new_call, "channel": channel, "tenant_id": a.tenant_id, "queue_id": a.queue_id,
        "caller": "+33612340000", "did": "", "host": "10.20.0.5", "lead_id": 42, "transferred_from": original}]


def test_a_malformed_hand_over_is_an_ordinary_caller(client, plan):
    """Bad variables (not uuids) never name a call: the channel enters as itself."""
    a = plan["a"]
    channel = str(uuid.uuid4())
    bus.pop_inbound_arrivals(a.queue_id)
    document = _fetch(client, f"tenant-{a.tenant_id}", f"queue-{a.queue_id}", **{
        "Unique-ID": channel, "Caller-Caller-ID-Number": "+33612345678", "variable_carillon_call_id": "x y",
        "variable_carillon_transferred_from": "not-a-uuid", "variable_carillon_caller": "+33600000000",
        "variable_carillon_lead_id": "42"})
    assert ("set", "carillon_call_id=${uuid}") in _actions(document)
    (arrival,) = bus.pop_inbound_arrivals(a.queue_id)
    assert (arrival["call_id"], arrival["channel"], arrival["caller"], arrival["lead_id"],
            arrival["transferred_from"]) == (channel, channel, "+33612345678", None, "")


def test_unknown_did_and_other_tenant_targets_are_not_found(client, plan):
    a, b = plan["a"], plan["b"]
    assert _not_found(_fetch(client, "public", "+33199999999"))
    assert _not_found(_fetch(client, "public", "not-a-number"))
    # tenant B's queue and menu are not reachable from tenant A's context, and back
    assert _not_found(_fetch(client, f"tenant-{a.tenant_id}", f"queue-{b.queue_id}"))
    assert _not_found(_fetch(client, f"tenant-{b.tenant_id}", f"queue-{a.queue_id}"))
    assert _not_found(_fetch(client, f"tenant-{b.tenant_id}", f"ivr-{a.ivr_id}"))
    assert _not_found(_fetch(client, f"tenant-{b.tenant_id}", f"agent-{a.agent_id}"))
    b_did = _actions(_fetch(client, "public", "+33180000001"))
    assert b_did[-1] == ("transfer", f"queue-{b.queue_id} XML tenant-{b.tenant_id}")


def test_inactive_did_is_not_routed(client, plan):
    from app.inbound.models import Did

    with tenant_scope(plan["a"].tenant_id):
        did = Session.query(Did).filter_by(number="+33170000001").one()
        did.active = False
        Session.commit()
    assert _not_found(_fetch(client, "public", "+33170000001"))


def test_the_dialplan_still_needs_the_secret_and_an_allowed_source(client, plan):
    form = {"section": "dialplan", "Hunt-Context": "public", "Hunt-Destination-Number": "+33170000001"}
    assert client.post("/freeswitch/dialplan", data=form, environ_base=NODE).status_code == 401
    assert client.post("/freeswitch/dialplan", data=form, headers=AUTH,
                       environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403
