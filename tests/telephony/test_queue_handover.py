"""An agent's transfer of their customer to an inbound queue, replayed from the session
recorded on FreeSWITCH 1.11.1 (data/12_queue_handover): the channel carries a new call
from the hand-over on, so its later events are that call's and commands still reach the
same channel."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from telephony.callcontrol import CallControlError, EventKind, OriginateRequest
from telephony.freeswitch.backend import CAUSE_TRANSFERRED_TO_QUEUE, FreeSwitchCallControl
from telephony.freeswitch.nodes import FreeSwitchNode
from tests.telephony.conftest import EventSink
from tests.telephony.eslserver import ScriptedEslServer, Step, api_response, json_event, load_sessions

CHANNEL = "c0ffee00-0012-4000-8000-000000000001"  # the customer's channel, and the outbound call's id
PATH = f"/opt/fsrec/7/{CHANNEL}.wav"


@pytest.fixture
def control_for(start_control) -> Callable[[ScriptedEslServer], FreeSwitchCallControl]:
    def make(server: ScriptedEslServer) -> FreeSwitchCallControl:
        node = FreeSwitchNode(name="fs1", host="127.0.0.1", port=server.port, password="ClueCon",
                              dial_template="sofia/interconnect/{destination}@127.0.0.1:5062")
        return start_control([node], recordings_dir="/opt/fsrec")

    return make


def _answered_in_conference(control: FreeSwitchCallControl, sink: EventSink) -> None:
    control.originate(OriginateRequest(CHANNEL, 7, 3, 11, "0601020304", "0162000000", 20, record=True))
    sink.wait_for(EventKind.HUMAN, CHANNEL)
    assert sink.wait_for(EventKind.RECORDING_STARTED, CHANNEL).data["path"] == PATH
    control.bridge_to_agent(CHANNEL, 51)
    assert sink.wait_for(EventKind.BRIDGED, CHANNEL).data["conference"] == "agent-7-51"


def test_the_customer_becomes_a_new_call_on_the_same_channel(control_for, esl_server, sink: EventSink) -> None:
    server = esl_server(load_sessions("12_queue_handover"))
    control = control_for(server)
    _answered_in_conference(control, sink)

    new_id = control.hand_to_queue(CHANNEL, "5")
    assert new_id != CHANNEL
    assert server.commands("api uuid_record") == [f"api uuid_record {CHANNEL} stop {PATH}"]
    assert server.commands("api uuid_setvar_multi") == [
        f"api uuid_setvar_multi {CHANNEL} carillon_call_id={new_id};carillon_transferred_from={CHANNEL};"
        "carillon_caller=0601020304"]
    assert server.commands("api uuid_transfer")[-1] == f"api uuid_transfer {CHANNEL} queue-5 XML tenant-7"
    # the campaign's call ends at the hand-over; its recording part was closed first
    assert sink.of(EventKind.RECORDING_STOPPED, CHANNEL)[0].data["path"] == PATH
    ended = sink.wait_for(EventKind.HANGUP, CHANNEL)
    assert ended.cause == CAUSE_TRANSFERRED_TO_QUEUE and ended.data["transferred_to"] == new_id
    tracked = control.tracker.get(new_id)
    assert tracked is not None and tracked.channel == CHANNEL and control.tracker.get(CHANNEL) is None
    assert (tracked.tenant_id, tracked.lead_id, tracked.state) == (7, 11, "answered")

    # the queue's dialer gives it to agent 52: the same channel moves, the new call is bridged
    control.bridge_to_agent(new_id, 52)
    assert server.commands("api uuid_transfer")[-1] == (
        f"api uuid_transfer {CHANNEL} conference:agent-7-52@default inline")
    assert sink.wait_for(EventKind.BRIDGED, new_id).data["conference"] == "agent-7-52"
    control.hangup(new_id)
    assert server.commands("api uuid_kill") == [f"api uuid_kill {CHANNEL} NORMAL_CLEARING"]
    hangup = sink.wait_for(EventKind.HANGUP, new_id)
    assert hangup.cause == "NORMAL_CLEARING" and hangup.data["billsec"] == "3"  # the channel's whole answer time
    # after its hand-over, nothing more is reported for the outbound call
    assert sink.kinds(CHANNEL)[-1] is EventKind.HANGUP and len(sink.of(EventKind.HANGUP, CHANNEL)) == 1
    assert sink.kinds(new_id) == [EventKind.BRIDGED, EventKind.HANGUP]
    assert control.tracker.calls == {}


def test_a_late_record_stop_of_the_old_file_is_not_the_new_calls(control_for, esl_server, sink) -> None:
    server = esl_server(load_sessions("12_queue_handover"))
    control = control_for(server)
    _answered_in_conference(control, sink)
    new_id = control.hand_to_queue(CHANNEL, "5")
    server.push(json_event({"Event-Name": "RECORD_STOP", "Unique-ID": CHANNEL, "Record-File-Path": PATH,
                            "Record-Completion-Cause": "success-maxtime"}))
    server.push(json_event({"Event-Name": "RECORD_START", "Unique-ID": CHANNEL,
                            "Record-File-Path": f"/opt/fsrec/7/{new_id}.wav"}))
    assert sink.wait_for(EventKind.RECORDING_STARTED, new_id).data["path"] == f"/opt/fsrec/7/{new_id}.wav"
    assert sink.of(EventKind.RECORDING_STOPPED, new_id) == []


def test_a_refused_transfer_leaves_the_call_with_its_agent(control_for, esl_server, sink) -> None:
    sessions = load_sessions("12_queue_handover")
    # the node refuses the move (the channel is gone, say): an -ERR in place of the recorded +OK
    steps = sessions[0].steps
    index = next(i for i, s in enumerate(steps) if s.command.startswith("api uuid_transfer") and "queue-5" in s.command)
    steps[index] = Step(steps[index].command, [api_response("-ERR No such channel!\n")])
    server = esl_server(sessions)
    control = control_for(server)
    _answered_in_conference(control, sink)
    with pytest.raises(CallControlError, match="No such channel"):
        control.hand_to_queue(CHANNEL, "5")
    assert control.tracker.get(CHANNEL) is not None and len(control.tracker.calls) == 1
    assert sink.of(EventKind.HANGUP) == []
    # the channel is named this call's again
    assert server.commands("api uuid_setvar ")[-1] == f"api uuid_setvar {CHANNEL} carillon_call_id {CHANNEL}"


@pytest.mark.parametrize("queue", ["", "5 6", "5\napi fsctl shutdown", "-1"])
def test_a_bad_queue_id_sends_nothing(control_for, esl_server, sink, queue: str) -> None:
    server = esl_server(load_sessions("12_queue_handover"))
    control = control_for(server)
    _answered_in_conference(control, sink)
    sent = len(server.received)
    with pytest.raises(CallControlError, match="queue id expected"):
        control.hand_to_queue(CHANNEL, queue)
    assert server.received[sent:] == [] and control.tracker.get(CHANNEL) is not None


def test_only_an_answered_call_is_handed_over(control_for, esl_server, sink) -> None:
    control = control_for(esl_server(load_sessions("12_queue_handover")))
    with pytest.raises(CallControlError, match="no open call"):
        control.hand_to_queue(CHANNEL, "5")
