"""Calls an agent places (MANUEL, PREVIEW) and transfers, on the engine alone."""

import json

import pytest

from telephony.callcontrol import CallControlError, EventKind, TransferKind
from telephony.dialer.calls import AgentState, CallState, IllegalTransition
from telephony.dialer.engine import LeadToDial
from telephony.dialer.pacing import DialMode

from .conftest import make_rig

LEAD = LeadToDial(41, "+33612345678")


def manual_rig(mode: DialMode = DialMode.MANUEL, **settings):
    finished = []
    rig = make_rig(mode, **settings)
    rig.engine._on_call_finished = finished.append
    return rig, finished


def test_an_agent_dialled_call_reserves_its_agent_and_is_bridged_to_them_on_answer():
    rig, finished = manual_rig(amd=True)
    rig.engine.login(1)
    rig.engine.login(2)
    call = rig.engine.dial_for_agent(2, LEAD)
    (request,) = rig.control.originated
    assert (request.lead_id, request.destination, request.amd, request.variables) == (
        41, "+33612345678", False, {"agent_id": "2"})
    assert rig.engine.agents[2].state is AgentState.RINGING and rig.engine.agents[2].call_id == call.call_id
    rig.run(5)  # MANUEL never dials by itself, and the reserved agent gets nothing else
    assert len(rig.control.originated) == 1
    rig.advance(4)
    rig.answer(call.call_id)
    assert rig.control.bridges[-1][:2] == (call.call_id, 2)
    assert rig.engine.next_deadline() is None  # no drop window: never abandoned
    rig.event(call.call_id, EventKind.BRIDGED)
    assert rig.engine.agents[2].state is AgentState.IN_CALL
    rig.advance(30)
    rig.event(call.call_id, EventKind.HANGUP, "NORMAL_CLEARING")
    assert rig.engine.agents[2].state is AgentState.WRAP_UP
    rig.engine.disposition(2, "VT")
    (record,) = finished
    assert record.agent_id == 2 and record.disposition == "VT"
    assert [s for s in record.times] == [CallState.QUEUED, CallState.DIALLING, CallState.RINGING,
                                         CallState.ANSWERED, CallState.BRIDGED, CallState.WRAP_UP,
                                         CallState.DISPOSITIONED]
    assert rig.engine.counters.abandoned == 0


@pytest.mark.parametrize(("cause", "state"), [("NO_ANSWER", CallState.NO_ANSWER), ("USER_BUSY", CallState.BUSY),
                                              ("UNALLOCATED_NUMBER", CallState.FAILED)])
def test_an_agent_dialled_call_not_reached_frees_its_agent(cause, state):
    rig, finished = manual_rig(DialMode.PREVIEW)
    rig.engine.login(1)
    call = rig.engine.dial_for_agent(1, LEAD)
    rig.advance(20)
    rig.event(call.call_id, EventKind.HANGUP, cause)
    assert rig.engine.agents[1].state is AgentState.READY and rig.engine.agents[1].call_id is None
    (record,) = finished
    assert (record.state, record.agent_id) == (state, 1)


def test_answered_then_gone_before_the_bridge_is_qualified_by_the_agent_not_abandoned():
    rig, finished = manual_rig()
    rig.engine.login(1)
    call = rig.engine.dial_for_agent(1, LEAD)
    rig.answer(call.call_id)
    rig.event(call.call_id, EventKind.HANGUP, "NORMAL_CLEARING")
    assert rig.engine.agents[1].state is AgentState.WRAP_UP
    rig.engine.disposition(1, "NRP")
    assert finished[0].state is CallState.DISPOSITIONED and rig.engine.counters.abandoned == 0


def test_only_a_ready_agent_dials():
    rig, _ = manual_rig()
    rig.engine.login(1)
    rig.engine.pause(1, "REPAS")
    with pytest.raises(IllegalTransition):
        rig.engine.dial_for_agent(1, LEAD)
    rig.engine.resume(1)
    rig.engine.dial_for_agent(1, LEAD)
    with pytest.raises(IllegalTransition):  # one call at a time
        rig.engine.dial_for_agent(1, LeadToDial(42, "+33612345679"))
    with pytest.raises(IllegalTransition):
        rig.engine.dial_for_agent(9, LEAD)  # not logged in
    assert len(rig.control.originated) == 1


def _in_call(rig, agent_id=1):
    call = rig.engine.dial_for_agent(agent_id, LEAD)
    rig.answer(call.call_id)
    rig.event(call.call_id, EventKind.BRIDGED)
    return call


def test_cold_transfer_to_a_ready_agent_hands_the_call_and_its_disposition_over():
    rig, finished = manual_rig()
    for agent_id in (1, 2):
        rig.engine.login(agent_id)
    call = _in_call(rig)
    rig.advance(10)
    rig.engine.transfer(1, TransferKind.AGENT, "2")
    assert rig.control.transfers == [("transfer", call.call_id, "agent", "2")]
    assert rig.engine.agents[1].state is AgentState.READY and rig.engine.agents[1].call_id is None
    assert rig.engine.agents[2].state is AgentState.IN_CALL and rig.engine.agents[2].call_id == call.call_id
    rig.event(call.call_id, EventKind.BRIDGED)  # the media side confirms: nothing changes
    rig.advance(20)
    rig.event(call.call_id, EventKind.HANGUP, "NORMAL_CLEARING")
    rig.engine.disposition(2, "VT")
    (record,) = finished
    assert record.agent_id == 2
    (transfer,) = json.loads(record.data["transfers"])
    assert transfer == {"at": 1010.0, "mode": "cold", "kind": "agent", "target": "2", "agent_id": 1}


def test_cold_transfer_to_a_number_puts_the_agent_in_wrap_up_and_the_cdr_waits_for_the_customer():
    rig, finished = manual_rig()
    rig.engine.login(1)
    call = _in_call(rig)
    rig.advance(10)
    rig.engine.transfer(1, TransferKind.EXTERNAL, "+33145000000")
    assert rig.engine.agents[1].state is AgentState.WRAP_UP
    rig.engine.disposition(1, "SAV")
    assert finished == [] and rig.engine.agents[1].state is AgentState.READY
    rig.advance(8)
    rig.event(call.call_id, EventKind.HANGUP, "NORMAL_CLEARING")
    (record,) = finished
    assert record.times[CallState.WRAP_UP] - record.times[CallState.BRIDGED] == 10  # the agent's talk
    assert record.ended_at == 1018.0


def test_warm_transfer_consults_then_completes_or_cancels():
    rig, finished = manual_rig()
    for agent_id in (1, 2):
        rig.engine.login(agent_id)
    call = _in_call(rig)
    rig.engine.transfer(1, TransferKind.AGENT, "2", warm=True)
    assert rig.engine.agents[2].state is AgentState.RINGING  # reserved while consulted
    assert rig.engine.agents[1].state is AgentState.IN_CALL
    with pytest.raises(IllegalTransition):
        rig.engine.transfer(1, TransferKind.EXTERNAL, "+33145000000")
    rig.engine.cancel_transfer(1)
    assert rig.engine.agents[2].state is AgentState.READY
    rig.engine.transfer(1, TransferKind.AGENT, "2", warm=True)
    rig.engine.complete_transfer(1)
    assert rig.engine.agents[2].state is AgentState.IN_CALL and rig.engine.agents[1].state is AgentState.READY
    assert [op for op, *_ in rig.control.transfers] == ["consult", "cancel", "consult", "complete"]
    rig.event(call.call_id, EventKind.HANGUP, "NORMAL_CLEARING")
    rig.engine.disposition(2, "VT")
    modes = [t["mode"] for t in json.loads(finished[0].data["transfers"])]
    assert modes == ["consult", "cancelled", "consult", "warm"]


def test_customer_leaving_during_a_consultation_frees_the_consulted_agent():
    rig, _ = manual_rig()
    for agent_id in (1, 2):
        rig.engine.login(agent_id)
    call = _in_call(rig)
    rig.engine.transfer(1, TransferKind.AGENT, "2", warm=True)
    rig.event(call.call_id, EventKind.HANGUP, "NORMAL_CLEARING")
    assert rig.engine.agents[2].state is AgentState.READY
    assert rig.engine.agents[1].state is AgentState.WRAP_UP
    assert rig.control.transfers[-1][0] == "cancel"


def test_bad_transfers_are_refused_and_change_nothing():
    rig, _ = manual_rig()
    for agent_id in (1, 2):
        rig.engine.login(agent_id)
    with pytest.raises(IllegalTransition):  # no call yet
        rig.engine.transfer(1, TransferKind.AGENT, "2")
    call = _in_call(rig)
    rig.engine.pause(2, "REPAS")
    for kind, target in ((TransferKind.AGENT, "2"), (TransferKind.AGENT, "1"), (TransferKind.AGENT, "x"),
                         (TransferKind.AGENT, "77"), (TransferKind.EXTERNAL, "")):
        with pytest.raises(IllegalTransition):
            rig.engine.transfer(1, kind, target)
    rig.control.refuse = "no agent leg"
    with pytest.raises(CallControlError):
        rig.engine.transfer(1, TransferKind.EXTERNAL, "+33145000000")
    assert rig.engine.agents[1].state is AgentState.IN_CALL and rig.engine.agents[1].call_id == call.call_id
    assert rig.control.transfers == [] and "transfers" not in call.data
    with pytest.raises(IllegalTransition):
        rig.engine.complete_transfer(1)


def test_cold_transfer_to_a_queue_ends_the_agent_part_and_warm_is_refused():
    rig, finished = manual_rig()
    rig.engine.login(1)
    call = _in_call(rig)
    rig.advance(10)
    with pytest.raises(IllegalTransition):  # nobody to consult in a queue
        rig.engine.transfer(1, TransferKind.QUEUE, "5", warm=True)
    assert rig.control.transfers == [] and rig.engine.agents[1].state is AgentState.IN_CALL
    rig.engine.transfer(1, TransferKind.QUEUE, "5")
    assert rig.control.transfers == [("transfer", call.call_id, "queue", "5")]
    assert rig.engine.agents[1].state is AgentState.WRAP_UP  # the agent qualifies their part
    rig.event(call.call_id, EventKind.HANGUP, "NORMAL_CLEARING")  # the customer's leg leaves the campaign
    rig.engine.disposition(1, "SAV")
    (record,) = finished
    assert record.agent_id == 1 and record.disposition == "SAV"
    (transfer,) = json.loads(record.data["transfers"])
    assert transfer == {"at": 1010.0, "mode": "cold", "kind": "queue", "target": "5", "agent_id": 1}
    assert rig.engine.agents[1].state is AgentState.READY and rig.engine.agents[1].call_id is None


def test_the_customer_transferred_to_a_queue_waits_as_a_new_call_of_the_same_lead():
    from telephony.dialer.inbound import transferred_call

    rig, _ = manual_rig()
    rig.engine.login(1)
    call = _in_call(rig)
    rig.engine.transfer(1, TransferKind.QUEUE, "5")
    waiting = transferred_call(3, call, 5, 1012.0)
    assert waiting.call_id != call.call_id and len(waiting.call_id) == 36
    assert (waiting.tenant_id, waiting.queue_id, waiting.caller, waiting.lead_id, waiting.arrived_at) == (
        3, 5, LEAD.phone_number, LEAD.lead_id, 1012.0)
    assert waiting.data == {"transferred_from": call.call_id}
