"""An agent's transfer to an inbound queue through the dialer service on the FreeSWITCH
backend, against the scripted ESL server replaying the session recorded on FreeSWITCH
1.11.1 (tests/telephony/data/12_queue_handover), and this application's dialplan
endpoint for the node's queue fetch: agent 1's customer becomes a new inbound call that
agent 2 (a reception campaign taking the queue) gets; each call has its own CDR row."""

from __future__ import annotations

import json
import re
import uuid

import gevent
import pytest

from app.auth.models import Role
from app.auth.services import create_user
from app.extensions import Session
from app.realtime import bus
from app.recordings.models import Recording
from telephony.dialer.backends import FreeSwitchBackends
from telephony.dialer.service import DialerService
from telephony.freeswitch.backend import CAUSE_TRANSFERRED_TO_QUEUE
from telephony.freeswitch.nodes import FreeSwitchNode
from tenants.scoping import tenant_scope
from tests.dialer_db.conftest import OPEN, make_campaign
from tests.dialer_fs.test_freeswitch_dialer import FakeClock, _call, _clear_bus, _stop
from tests.inbound.conftest import engine_state, make_queue, step_until
from tests.inbound.conftest import make_campaign as make_reception_campaign
from tests.inbound.test_dialplan import NODE, _fetch, settings  # noqa: F401 - fixture
from tests.telephony.eslserver import ScriptedEslServer, Step, api_response, load_sessions

CHANNEL = "c0ffee00-0012-4000-8000-000000000001"  # the recorded channel: the outbound call's id


@pytest.fixture()
def rig(world, settings):  # noqa: F811
    _clear_bus()
    tenant_id = world.a.id
    first = world.a.users["agent"].id
    outbound = make_campaign(tenant_id, "Relance", leads=1, recording=True)
    with tenant_scope(tenant_id):
        second = create_user(email="queue-agent@alpha-appels.fr", display_name="Agent file",
                             password="Correct-horse-42", role=Role.AGENT, tenant_id=tenant_id).id
        reception = make_reception_campaign(tenant_id, "Accueil", mode="RECEPTION").id
        queue = make_queue("Accueil", [reception], recording=True, wrapup_s=45).id
        Session.commit()
    with tenant_scope(world.b.id):
        other_tenant_queue = make_queue("Accueil B", []).id
        Session.commit()

    def rewrite(body: str) -> str:  # the recording's tenant 7 and agents 51/52 are this test's
        return (body.replace("agent-7-51", f"agent-{tenant_id}-{first}").replace("agent-7-52", f"agent-{tenant_id}-{second}")
                .replace("/opt/fsrec/7/", f"/opt/fsrec/{tenant_id}/"))

    sessions = load_sessions("12_queue_handover", rewrite)
    # the queue records its calls: RECORD_STEREO, then the new call's own file
    sessions[0].steps += [Step("api uuid_setvar x", [api_response("+OK")]),
                          Step("api uuid_record x start", [api_response("+OK Success\n")])]
    server = ScriptedEslServer(sessions).start()
    node = FreeSwitchNode(name="fs1", host="127.0.0.1", port=server.port, password="ClueCon")
    backends = FreeSwitchBackends([node], connect_wait_s=3, backoff_initial=0.05, backoff_max=0.2,
                                  connect_timeout=1.0, recordings_dir="/opt/fsrec")
    service = DialerService(clock=FakeClock(), tenant_ids=[tenant_id], epoch_wall=OPEN.timestamp(),
                            discover_every_s=3600, backends=backends, new_call_id=lambda: CHANNEL)
    yield service, server, {"tenant": tenant_id, "first": first, "second": second, "outbound": outbound.id,
                            "reception": reception, "queue": queue, "other_queue": other_tenant_queue}
    _stop(service)
    if service.inbound is not None:
        service.inbound.close()
    server.stop()


def _run_until(service: DialerService, ids: dict, done, what: str, limit: int = 200) -> None:
    step_until(service, ids["tenant"], (ids["first"], ids["second"]), done, what, limit=limit)


_state = engine_state


def _in_call_with_agent_1(service: DialerService, ids: dict) -> None:
    service.discover()
    bus.send_command(bus.AgentCommand("login", ids["tenant"], ids["reception"], ids["second"]))
    bus.send_command(bus.AgentCommand("login", ids["tenant"], ids["outbound"], ids["first"]))
    _run_until(service, ids, lambda: _state(service, ids["outbound"], ids["first"]) == "in_call",
               "the customer never reached agent 1")


def _transfer(ids: dict, target: str) -> None:
    bus.send_command(bus.AgentCommand("transfer", ids["tenant"], ids["outbound"], ids["first"],
                                      transfer_kind="queue", target=target))


def test_the_customer_waits_in_the_queue_and_reaches_the_next_agent(rig, client):
    service, server, ids = rig
    tenant_id = ids["tenant"]
    _in_call_with_agent_1(service, ids)
    _transfer(ids, str(ids["queue"]))
    _run_until(service, ids, lambda: server.commands("api uuid_setvar_multi"), "no hand-over sent")
    (setvars,) = server.commands("api uuid_setvar_multi")
    variables = dict(item.split("=", 1) for item in setvars.split(" ", 3)[3].split(";"))
    new_id = variables["carillon_call_id"]
    assert variables["carillon_transferred_from"] == CHANNEL and re.fullmatch(r"\+336\d{8}", variables["carillon_caller"])
    assert server.commands("api uuid_transfer")[-1] == f"api uuid_transfer {CHANNEL} queue-{ids['queue']} XML tenant-{tenant_id}"
    _run_until(service, ids, lambda: _state(service, ids["outbound"], ids["first"]) == "wrap_up",
               "agent 1 is not in wrap-up after the transfer")
    originate = server.commands("bgapi originate")[0]
    lead_id = re.search(r"carillon_lead_id=(\d+)", originate).group(1)

    # the node fetches the queue extension (mod_xml_curl) for the transferred channel
    document = _fetch(client, f"tenant-{tenant_id}", f"queue-{ids['queue']}", **{
        "Unique-ID": CHANNEL, "Caller-Caller-ID-Number": variables["carillon_caller"],
        "variable_carillon_call_id": new_id, "variable_carillon_transferred_from": CHANNEL,
        "variable_carillon_caller": variables["carillon_caller"], "variable_carillon_lead_id": lead_id,
        "variable_carillon_tenant_id": str(tenant_id), "FreeSWITCH-IPv4": NODE["REMOTE_ADDR"]})
    assert ("set", "carillon_call_id=${uuid}") not in [(a.get("application"), a.get("data")) for a in
                                                       document.iter("action")]
    _run_until(service, ids, lambda: _state(service, ids["reception"], ids["second"]) == "in_call",
               "the customer never reached agent 2")
    assert server.commands("api uuid_transfer")[-1] == (
        f"api uuid_transfer {CHANNEL} conference:agent-{tenant_id}-{ids['second']}@default inline")
    # the queue records its calls: the new call's own file, on the same channel
    assert server.commands("api uuid_record")[-1] == (
        f"api uuid_record {CHANNEL} start /opt/fsrec/{tenant_id}/{new_id}.wav")
    queued = _call(tenant_id, new_id)
    assert (queued.direction, queued.queue_id, queued.agent_id, queued.lead_id) == (
        "in", ids["queue"], ids["second"], int(lead_id))
    assert queued.data["transferred_from"] == CHANNEL and queued.ended_at is None

    # agent 1 qualifies the outbound call: its row closes, the customer talks on
    bus.send_command(bus.AgentCommand("disposition", tenant_id, ids["outbound"], ids["first"], status="VT",
                                      call_id=CHANNEL))
    _run_until(service, ids, lambda: getattr(_call(tenant_id, CHANNEL), "ended_at", None) is not None,
               "the outbound call never closed")
    first = _call(tenant_id, CHANNEL)
    assert (first.state, first.disposition, first.agent_id, first.direction) == (
        "dispositioned", "VT", ids["first"], "out")
    assert first.data["hangup_cause"] == CAUSE_TRANSFERRED_TO_QUEUE and first.data["transferred_to"] == new_id
    assert [(t["mode"], t["kind"]) for t in json.loads(first.data["transfers"])] == [("cold", "queue")]
    with tenant_scope(tenant_id):
        parts = [(r.part, r.status, r.source_path) for r in Session.query(Recording).filter_by(
            call_id=uuid.UUID(CHANNEL))]
        Session.rollback()
    assert parts == [(1, "pending", f"/opt/fsrec/{tenant_id}/{CHANNEL}.wav")]  # closed at the transfer
    assert _state(service, ids["reception"], ids["second"]) == "in_call"

    # agent 2 hangs up (the same channel is killed), then qualifies the queue call
    _agent_2_hangs_up(service, server, ids)
    # the countdown of each agent's page: the queue's wrap-up for agent 2, the campaign's for agent 1
    assert bus.agent_state(tenant_id, ids["second"])["wrapup_s"] == "45"
    assert bus.agent_state(tenant_id, ids["first"])["wrapup_s"] == "30"
    bus.send_command(bus.AgentCommand("disposition", tenant_id, ids["reception"], ids["second"], status="INJ",
                                      call_id=new_id))
    _run_until(service, ids, lambda: getattr(_call(tenant_id, new_id), "ended_at", None) is not None,
               "the queue call never closed")
    queued = _call(tenant_id, new_id)
    assert (queued.state, queued.disposition, queued.campaign_id) == ("dispositioned", "INJ", ids["reception"])
    assert queued.data["hangup_cause"] == "NORMAL_CLEARING" and queued.node == "fs1"
    assert _state(service, ids["outbound"], ids["first"]) == "ready"
    assert _state(service, ids["reception"], ids["second"]) == "ready"


def _agent_2_hangs_up(service: DialerService, server: ScriptedEslServer, ids: dict) -> None:
    bus.send_command(bus.AgentCommand("hangup", ids["tenant"], ids["reception"], ids["second"]))
    _run_until(service, ids, lambda: _state(service, ids["reception"], ids["second"]) == "wrap_up",
               "agent 2 never went to wrap-up")
    assert server.commands("api uuid_kill") == [f"api uuid_kill {CHANNEL} NORMAL_CLEARING"]


def _to_agent_2(service: DialerService, server: ScriptedEslServer, ids: dict, client) -> str:
    """Agent 1's customer, transferred to the queue, reaches agent 2; returns its new call id."""
    _in_call_with_agent_1(service, ids)
    _transfer(ids, str(ids["queue"]))
    _run_until(service, ids, lambda: server.commands("api uuid_setvar_multi"), "no hand-over sent")
    variables = dict(item.split("=", 1) for item in server.commands("api uuid_setvar_multi")[0].split(" ", 3)[3]
                     .split(";"))
    _fetch(client, f"tenant-{ids['tenant']}", f"queue-{ids['queue']}", **{
        "Unique-ID": CHANNEL, **{f"variable_{name}": value for name, value in variables.items()},
        "FreeSWITCH-IPv4": NODE["REMOTE_ADDR"]})
    _run_until(service, ids, lambda: _state(service, ids["reception"], ids["second"]) == "in_call",
               "the customer never reached agent 2")
    return variables["carillon_call_id"]


def test_a_queue_calls_wrap_up_runs_out_at_the_queues_length(rig, client):
    """The reception campaign closes wrap-ups with its default status after its 30 s;
    a call taken from the queue has the queue's 45 s."""
    service, server, ids = rig
    new_id = _to_agent_2(service, server, ids, client)
    runner = service.held[ids["reception"]].runner
    runner.wrap_up_status = "RP"
    _agent_2_hangs_up(service, server, ids)
    started = service._clock.t
    _run_until(service, ids, lambda: service._clock.t - started >= 40, "no time passed")
    assert _state(service, ids["reception"], ids["second"]) == "wrap_up"  # past the campaign's 30 s
    _run_until(service, ids, lambda: _state(service, ids["reception"], ids["second"]) == "ready",
               "the queue's wrap-up never ran out")
    assert 45 <= service._clock.t - started < 47
    _run_until(service, ids, lambda: getattr(_call(ids["tenant"], new_id), "ended_at", None) is not None,
               "the queue call never closed")
    assert _call(ids["tenant"], new_id).disposition == "RP"


@pytest.mark.parametrize("target", ["other_queue", "missing"])
def test_a_queue_that_is_not_the_tenants_is_refused_and_nothing_is_sent(rig, target):
    """Another tenant's queue (or none) would be refused by the dialplan and the customer
    dropped: the runner refuses it first, the agent is told, the call stays with them."""
    from app.extensions import redis

    service, server, ids = rig
    _in_call_with_agent_1(service, ids)
    events = redis().pubsub(ignore_subscribe_messages=True)
    events.subscribe(bus.events_channel(ids["tenant"]))
    _transfer(ids, str(ids["other_queue"] if target == "other_queue" else 999999))
    for _ in range(4):
        service.step()
        gevent.sleep(0.02)
    refusals = []
    for _ in range(20):
        raw = events.get_message(timeout=0.05)
        if raw is not None and json.loads(raw["data"]).get("type") == "refused":
            refusals.append(json.loads(raw["data"]))
    events.close()
    assert [(r["agent_id"], r["command"]) for r in refusals] == [(ids["first"], "transfer")]
    assert "no active queue" in refusals[0]["reason"]
    assert server.commands("api uuid_setvar_multi") == []
    assert not [c for c in server.commands("api uuid_transfer") if "queue-" in c]
    assert _state(service, ids["outbound"], ids["first"]) == "in_call"
    assert _call(ids["tenant"], CHANNEL).ended_at is None


def test_an_arrival_is_checked_before_it_enters_the_queue(world):
    """What the web pushed for the dialer (from the node's variables): ids must be
    uuids, and a lead id names a lead of the queue's tenant or nothing."""
    from types import SimpleNamespace

    import sqlalchemy as sa

    from app.leads.models import Lead
    from telephony.dialer.inbound import FreeSwitchInboundMedia, load_queues

    a, b = world.a.id, world.b.id
    make_campaign(a, "Relance A", leads=1)
    make_campaign(b, "Relance B", leads=1)
    with tenant_scope(a):
        queue_id = make_queue("Accueil", []).id
        own_lead = Session.scalar(sa.select(Lead.id))
        Session.commit()
    with tenant_scope(b):
        other_lead = Session.scalar(sa.select(Lead.id))
        Session.rollback()
    queue = load_queues([a])[queue_id]
    link = SimpleNamespace(unrouted=None, control=SimpleNamespace(nodes={"fs1": SimpleNamespace(host="127.0.0.1")}))
    media = FreeSwitchInboundMedia(link)
    channel, original = str(uuid.uuid4()), str(uuid.uuid4())
    calls = {name: str(uuid.uuid4()) for name in ("own", "other")}
    bus.pop_inbound_arrivals(queue_id)
    for name, lead in (("own", own_lead), ("other", other_lead)):
        bus.push_inbound_arrival(queue_id, {"call_id": calls[name], "channel": channel, "tenant_id": a,
                                            "caller": "+33612340000", "lead_id": lead, "transferred_from": original})
    bus.push_inbound_arrival(queue_id, {"call_id": "x; api fsctl shutdown", "tenant_id": a, "caller": "+336"})
    bus.push_inbound_arrival(queue_id, {"call_id": str(uuid.uuid4()), "channel": "bad", "tenant_id": a})
    bus.push_inbound_arrival(queue_id, {"call_id": str(uuid.uuid4()), "tenant_id": b})  # another tenant's list entry
    with tenant_scope(a):
        taken = media.arrivals(queue, 0.0)
        Session.rollback()
    assert [(c.call_id, c.channel, c.lead_id, c.data) for c in taken] == [
        (calls["own"], channel, own_lead, {"transferred_from": original}),
        (calls["other"], channel, None, {"transferred_from": original}),
    ]


def test_a_customer_who_hangs_up_before_the_queue_takes_them_is_abandoned_at_once():
    """Handed over, the channel is tracked as the new call at once; if the customer hangs
    up before the dialplan's arrival reaches the router, the router's next step finds
    them gone (not waiting until the queue's maximum wait)."""
    from types import SimpleNamespace

    from telephony.callcontrol import CallEvent, EventKind
    from telephony.dialer.inbound import FreeSwitchInboundMedia, WaitingCall
    from telephony.freeswitch.tracker import CallTracker

    control = SimpleNamespace(nodes={"fs1": SimpleNamespace(host="127.0.0.1")}, tracker=CallTracker(), clients={})
    media = FreeSwitchInboundMedia(SimpleNamespace(unrouted=None, control=control))
    gone_early, waiting = str(uuid.uuid4()), str(uuid.uuid4())
    media._on_unrouted(CallEvent(gone_early, EventKind.HANGUP, 1.0, cause="NORMAL_CLEARING"))
    for call_id in (gone_early, waiting):
        media.accept(WaitingCall(call_id, 1, 5, "+33612340000", 2.0, node="fs1", channel=str(uuid.uuid4())), 2.0)
    assert media.gone(2.0) == [gone_early] and control.tracker.get(gone_early) is None
    assert control.tracker.get(waiting).channel != waiting  # commands will go to its channel
    media._on_unrouted(CallEvent(waiting, EventKind.HANGUP, 3.0, cause="NORMAL_CLEARING"))
    assert media.gone(3.0) == [waiting]
