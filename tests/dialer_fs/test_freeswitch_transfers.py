"""Agent-dialled calls and transfers against a real FreeSWITCH (FREESWITCH_ESL=host:port:password;
skipped otherwise, like tests/telephony's integration tests). Legs go to the ``null``
endpoint (answers at once, no RTP); agents are ``null`` legs parked in their personal
conference ``agent-<tenant>-<agent>``, as the softphone's long call is."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import gevent
import pytest

from telephony.callcontrol import TransferKind
from telephony.dialer.calls import AgentState
from telephony.dialer.engine import CampaignEngine, CampaignSettings, LeadToDial
from telephony.dialer.pacing import DialMode
from telephony.freeswitch.backend import FreeSwitchCallControl, SystemClock
from tests.telephony.conftest import EventSink
from tests.telephony.test_freeswitch_integration import ESL, _api, _control

pytestmark = [
    pytest.mark.freeswitch,
    pytest.mark.skipif(not ESL, reason="FREESWITCH_ESL=host:port:password is not set: no FreeSWITCH to test against"),
]
TENANT = 7


@pytest.fixture
def sink() -> EventSink:
    return EventSink()


@pytest.fixture
def control(sink: EventSink) -> Iterator[FreeSwitchCallControl]:
    control = _control(sink, "null/{destination}")
    legs: list[str] = []
    control.test_legs = legs  # type: ignore[attr-defined]
    yield control
    for call_id in list(control.tracker.calls):
        control.hangup(call_id)
    for leg in legs:
        _api(control, f"uuid_kill {leg}")
    with gevent.Timeout(10):
        control.stop()


def _agent_leg(control: FreeSwitchCallControl, agent_id: int) -> str:
    leg = str(uuid.uuid4())
    conference = f"agent-{TENANT}-{agent_id}"
    reply = _api(control, f"originate {{origination_uuid={leg}}}null/agent{agent_id} &conference({conference}@default)")
    assert reply.startswith("+OK"), reply
    control.test_legs.append(leg)  # type: ignore[attr-defined]
    with gevent.Timeout(10, AssertionError(f"agent {agent_id} never joined its conference")):
        while control.conferences.get(conference) is None or leg not in control.conferences.get(conference).members:
            gevent.sleep(0.05)
    return leg


def _members(control: FreeSwitchCallControl, conference: str) -> dict[str, dict]:
    reply = _api(control, f"conference {conference} json_list")
    if not reply.lstrip().startswith("["):
        return {}  # no such conference (it ends with its last member)
    return {m["uuid"]: m["flags"] for c in json.loads(reply) for m in c.get("members", [])}


def _until(predicate, what: str, timeout: float = 10.0) -> None:
    with gevent.Timeout(timeout, AssertionError(what)):
        while not predicate():
            gevent.sleep(0.05)


class _Feed:
    """Delivers the sink's events into the engine, as the dialer's runner does."""

    def __init__(self, sink: EventSink, engine: CampaignEngine) -> None:
        self.sink, self.engine, self.done = sink, engine, 0

    def until(self, predicate, what: str, timeout: float = 10.0) -> None:
        def fed() -> bool:
            while self.done < len(self.sink.events):
                self.engine.on_event(self.sink.events[self.done])
                self.done += 1
            return predicate()

        _until(fed, what, timeout)


def _engine(control: FreeSwitchCallControl, finished: list) -> CampaignEngine:
    settings = CampaignSettings(tenant_id=TENANT, campaign_id=3, mode=DialMode.MANUEL, caller_id="0162000000")
    return CampaignEngine(settings, control, SystemClock(), leads=None, on_call_finished=finished.append)  # type: ignore[arg-type]


def test_an_agent_dialled_call_reaches_its_agent_conference(control: FreeSwitchCallControl, sink: EventSink) -> None:
    _agent_leg(control, 51)
    finished: list = []
    engine = _engine(control, finished)
    feed = _Feed(sink, engine)
    engine.login(51)
    call = engine.dial_for_agent(51, LeadToDial(11, "0601020304"))
    assert engine.agents[51].state is AgentState.RINGING
    feed.until(lambda: engine.agents[51].state is AgentState.IN_CALL, "the dialled call never reached its agent")
    assert call.call_id in _members(control, f"agent-{TENANT}-51")
    assert _api(control, f"uuid_getvar {call.call_id} carillon_agent_id").strip() == "51"
    control.hangup(call.call_id)
    feed.until(lambda: engine.agents[51].state is AgentState.WRAP_UP, "no wrap-up after the hangup")
    engine.disposition(51, "VT")
    assert finished[0].agent_id == 51 and finished[0].disposition == "VT"


def test_warm_transfer_to_a_number_consults_then_bridges_the_customer(control: FreeSwitchCallControl,
                                                                     sink: EventSink) -> None:
    agent_leg = _agent_leg(control, 52)
    conference = f"agent-{TENANT}-52"
    finished: list = []
    engine = _engine(control, finished)
    feed = _Feed(sink, engine)
    engine.login(52)
    call = engine.dial_for_agent(52, LeadToDial(12, "0601020305"))
    feed.until(lambda: engine.agents[52].state is AgentState.IN_CALL, "not in call")
    engine.transfer(52, TransferKind.EXTERNAL, "0145000000", warm=True)
    consult = control.consults[call.call_id]
    control.test_legs.append(consult.leg_uuid)  # type: ignore[attr-defined]
    _until(lambda: consult.leg_uuid in _members(control, conference), "the consulted number never joined")
    customer = _members(control, conference)[call.call_id]
    assert (customer["can_hear"], customer["can_speak"]) == (False, False)  # the customer waits
    engine.complete_transfer(52)
    _until(lambda: call.call_id not in _members(control, conference), "the customer is still in the conference")
    assert _api(control, f"uuid_exists {call.call_id}").strip() == "true"
    assert agent_leg in _members(control, conference) and consult.leg_uuid not in _members(control, conference)
    assert engine.agents[52].state is AgentState.WRAP_UP  # the agent qualifies, the call goes on
    engine.disposition(52, "SAV")
    control.hangup(call.call_id)
    feed.until(lambda: bool(finished), "the CDR never closed")
    modes = [t["mode"] for t in json.loads(finished[0].data["transfers"])]
    assert modes == ["consult", "warm"]


def test_warm_transfer_to_an_agent_then_cancel_then_cold(control: FreeSwitchCallControl, sink: EventSink) -> None:
    leg_a = _agent_leg(control, 53)
    leg_b = _agent_leg(control, 54)
    conf_a, conf_b = f"agent-{TENANT}-53", f"agent-{TENANT}-54"
    finished: list = []
    engine = _engine(control, finished)
    feed = _Feed(sink, engine)
    engine.login(53)
    engine.login(54)
    call = engine.dial_for_agent(53, LeadToDial(13, "0601020306"))
    feed.until(lambda: engine.agents[53].state is AgentState.IN_CALL, "not in call")
    engine.transfer(53, TransferKind.AGENT, "54", warm=True)
    _until(lambda: leg_b in _members(control, conf_a), "agent 54's leg never came to consult")
    assert engine.agents[54].state is AgentState.RINGING
    engine.cancel_transfer(53)
    _until(lambda: leg_b in _members(control, conf_b), "agent 54's leg never went home")
    _until(lambda: _members(control, conf_a).get(call.call_id, {}).get("can_hear") is True, "customer still deaf")
    assert engine.agents[54].state is AgentState.READY
    engine.transfer(53, TransferKind.AGENT, "54")  # cold, at once
    _until(lambda: call.call_id in _members(control, conf_b), "the customer never reached agent 54")
    assert leg_a in _members(control, conf_a)
    assert (engine.agents[53].state, engine.agents[54].state) == (AgentState.READY, AgentState.IN_CALL)
    control.hangup(call.call_id)
    feed.until(lambda: engine.agents[54].state is AgentState.WRAP_UP, "agent 54 never wrapped up")
    engine.disposition(54, "VT")
    assert finished[0].agent_id == 54


def test_cold_transfer_to_a_number_leaves_the_agent_alone_in_their_conference(control: FreeSwitchCallControl,
                                                                              sink: EventSink) -> None:
    agent_leg = _agent_leg(control, 55)
    conference = f"agent-{TENANT}-55"
    finished: list = []
    engine = _engine(control, finished)
    feed = _Feed(sink, engine)
    engine.login(55)
    call = engine.dial_for_agent(55, LeadToDial(14, "0601020307"))
    feed.until(lambda: engine.agents[55].state is AgentState.IN_CALL, "not in call")
    engine.transfer(55, TransferKind.EXTERNAL, "0145000001")
    _until(lambda: call.call_id not in _members(control, conference), "the customer is still in the conference")
    assert _api(control, f"uuid_exists {call.call_id}").strip() == "true"  # now talking to the number
    assert list(_members(control, conference)) == [agent_leg]
    assert engine.agents[55].state is AgentState.WRAP_UP
    engine.disposition(55, "SAV")
    control.hangup(call.call_id)
    feed.until(lambda: bool(finished), "the CDR never closed")
    assert [t["mode"] for t in json.loads(finished[0].data["transfers"])] == ["cold"]
