"""ESL drops: reconnect with backoff, then reconcile live channels with open calls."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import gevent
import pytest

from telephony.callcontrol import EventKind, OriginateRequest
from telephony.freeswitch.backend import CAUSE_CHANNEL_GONE, CAUSE_NODE_UNREACHABLE, FreeSwitchCallControl
from telephony.freeswitch.nodes import FreeSwitchNode
from tests.telephony.conftest import EventSink, recorded_frames
from tests.telephony.eslserver import (
    ScriptedEslServer,
    SessionScript,
    Step,
    api_response,
    frame,
    json_event,
    load_sessions,
)

CALL_09 = "c0ffee00-0009-4000-8000-000000000001"
_BODIES_09 = [f.body or "" for f in recorded_frames("09_reconnect_reconcile")]
EARLY_ROWS, ACTIVE_ROWS = [b for b in _BODIES_09 if b.startswith('{"row_count":1,"rows":[{"uuid"')][:2]
DUMP_09 = next(b for b in _BODIES_09 if b.startswith('{"Event-Name":"CHANNEL_DATA"'))

Factory = Callable[..., FreeSwitchCallControl]


@pytest.fixture
def backend(start_control) -> Factory:
    def make(server: ScriptedEslServer, **options: object) -> FreeSwitchCallControl:
        node = FreeSwitchNode(name="fs1", host="127.0.0.1", port=server.port, password="ClueCon")
        return start_control([node], **options)

    return make


def _request(call_id: str = CALL_09) -> OriginateRequest:
    return OriginateRequest(call_id, 7, 3, 11, "0601020304", "0162000000")


def _listing(rows: str, exists: str | None = None) -> SessionScript:
    steps = [Step("api show channels as json", [api_response(rows)])]
    if exists is not None:
        steps.append(Step("api uuid_exists", [api_response(exists)]))
    return SessionScript(steps=steps)


def _listing_one_channel(esl_server, variables: str) -> ScriptedEslServer:
    """A node listing the recorded live channel, its ``uuid_dump`` carrying ``variables``
    (JSON members) instead of the recording's call id."""
    dump = DUMP_09.replace('"variable_crm_call_id":"1011"', variables)
    return esl_server([SessionScript(steps=[
        Step("api show channels as json", [api_response(ACTIVE_ROWS)]),
        Step("api uuid_dump", [api_response(dump)]),
    ])])


def _wait_session(control: FreeSwitchCallControl, number: int) -> None:
    with gevent.Timeout(5, AssertionError(f"no ESL session {number}")):
        while control.clients["fs1"].connections_made < number or not control.clients["fs1"].connected:
            gevent.sleep(0.01)


def test_recorded_drop_while_ringing_then_answer_on_the_new_session(
    backend: Factory, esl_server, sink: EventSink
) -> None:
    server = esl_server(load_sessions("09_reconnect_reconcile"))
    control = backend(server)
    control.originate(_request())
    server.wait_for("bgapi originate")
    gevent.sleep(0.05)  # CHANNEL_CREATE arrives
    server.drop()  # the recorded RST while the call rings
    answered = sink.wait_for(EventKind.ANSWERED, CALL_09)
    _wait_session(control, 2)
    server.wait_for("api show channels as json", count=2)
    gevent.sleep(0.05)
    # conn 2 got conn 1's BACKGROUND_JOB (+OK) and the ANSWER: one answer, no hangup.
    assert sink.kinds(CALL_09).count(EventKind.ANSWERED) == 1
    assert EventKind.HANGUP not in sink.kinds(CALL_09)
    assert answered.data["node"] == "fs1"
    assert not server.commands("api uuid_exists")  # it was listed: no doubt to lift
    control.hangup(CALL_09)
    hangup = sink.wait_for(EventKind.HANGUP, CALL_09)
    assert hangup.cause == "NORMAL_CLEARING"
    assert server.commands("bgapi originate") == server.commands("bgapi originate")[:1]  # never dialled twice


def test_answer_missed_during_the_outage_is_caught_up(backend: Factory, esl_server, sink: EventSink) -> None:
    server = esl_server([SessionScript(), _listing(ACTIVE_ROWS)])
    control = backend(server)
    control.originate(_request())
    server.wait_for("bgapi originate")
    server.drop()
    human = sink.wait_for(EventKind.HUMAN, CALL_09)
    assert sink.kinds(CALL_09) == [EventKind.RINGING, EventKind.ANSWERED, EventKind.HUMAN]
    assert human.data["reconciled"] == "true"
    assert control.tracker.calls[CALL_09].state == "answered"


def test_channel_gone_during_the_outage_closes_the_call(
    backend: Factory, esl_server, sink: EventSink
) -> None:
    server = esl_server([SessionScript(), _listing('{"row_count": 0}\n', exists="false")])
    control = backend(server)
    control.originate(_request())
    server.wait_for("bgapi originate")
    server.drop()
    hangup = sink.wait_for(EventKind.HANGUP, CALL_09)
    assert (hangup.cause, hangup.data["reconciled"]) == (CAUSE_CHANNEL_GONE, "true")
    assert server.commands("api uuid_exists") == [f"api uuid_exists {CALL_09}"]
    assert control.active_calls() == {"fs1": 0}


def test_channel_missing_from_the_list_but_alive_stays_open(
    backend: Factory, esl_server, sink: EventSink
) -> None:
    # "show channels" is filled asynchronously (README surprise 4): ask uuid_exists.
    server = esl_server([SessionScript(), _listing('{"row_count": 0}\n', exists="true")])
    control = backend(server)
    control.originate(_request())
    server.wait_for("bgapi originate")
    server.drop()
    server.wait_for("api uuid_exists")
    gevent.sleep(0.05)
    assert EventKind.HANGUP not in sink.kinds(CALL_09)
    assert CALL_09 in control.tracker.calls


def test_calls_placed_on_the_new_session_are_not_reconciled(
    backend: Factory, esl_server, sink: EventSink
) -> None:
    server = esl_server([SessionScript()])
    control = backend(server)
    control.originate(_request())  # the initial reconcile may still be running
    gevent.sleep(0.1)
    assert not server.commands("api uuid_exists")
    assert sink.events == []


def test_crash_mid_call_then_node_never_returns(backend: Factory, esl_server, sink: EventSink) -> None:
    server = esl_server(load_sessions("03_originate_answered"))
    control = backend(server, node_lost_grace_s=0.3)
    call_id = "c0ffee00-0003-4000-8000-000000000001"
    control.originate(_request(call_id))
    sink.wait_for(EventKind.ANSWERED, call_id)
    server.accepting = False
    server.drop()  # SIGFPE: a bare EOF, no disconnect-notice
    control.hangup(call_id)  # must neither raise nor hang while the node is down
    hangup = sink.wait_for(EventKind.HANGUP, call_id, timeout=3)
    assert hangup.cause == CAUSE_NODE_UNREACHABLE
    assert control.active_calls() == {"fs1": 0}

    # The node comes back with the channel still up: it is hung up, not left unbilled.
    server.sessions.append(_listing(ACTIVE_ROWS.replace(CALL_09, call_id)))
    server.accepting = True
    server.wait_for(f"api uuid_kill {call_id}", timeout=3)
    assert sink.kinds(call_id).count(EventKind.HANGUP) == 1


def test_malformed_event_mid_call_is_ignored(
    backend: Factory, esl_server, sink: EventSink, caplog: pytest.LogCaptureFixture
) -> None:
    server = esl_server([SessionScript()])
    control = backend(server)
    control.originate(_request())
    server.wait_for("bgapi originate")
    with caplog.at_level(logging.WARNING):
        server.push(b"Content-Length: 12\nContent-Type: text/event-json\n\n{broken json")
        server.push(frame({"Content-Type": "text/event-plain"}, "No-Event-Name: here\n\n"))
        server.push(json_event({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": CALL_09}))
        sink.wait_for(EventKind.ANSWERED, CALL_09)
    assert caplog.text.count("malformed event ignored") == 2
    assert control.clients["fs1"].connections_made == 1  # the session survived


def test_unframable_bytes_drop_the_session_and_it_recovers(
    backend: Factory, esl_server, sink: EventSink
) -> None:
    server = esl_server([SessionScript(), _listing(EARLY_ROWS)])
    control = backend(server)
    control.originate(_request())
    server.wait_for("bgapi originate")
    server.push(b"Content-Type: api/response\nContent-Length: lots\n\n")
    _wait_session(control, 2)
    assert sink.wait_for(EventKind.RINGING, CALL_09).data["reconciled"] == "true"
    assert EventKind.HANGUP not in sink.kinds(CALL_09)


def test_adopts_a_call_of_a_previous_process_when_it_owns_it(
    backend: Factory, esl_server, sink: EventSink
) -> None:
    # The recorded channel with the variables our originate sets (call id = uuid, campaign).
    server = _listing_one_channel(esl_server, f'"variable_crm_call_id":"{CALL_09}","variable_crm_campaign_id":"3"')
    control = backend(server, variable_prefix="crm_", owns_call=lambda call_id: call_id == CALL_09)
    human = sink.wait_for(EventKind.HUMAN, CALL_09)
    assert human.data["adopted"] == "true"
    call = control.tracker.calls[CALL_09]
    assert (call.tenant_id, call.campaign_id, call.node) == (7, 3, "fs1")


def test_a_channel_handed_to_a_queue_is_adopted_as_the_call_it_carries_now(
    backend: Factory, esl_server, sink: EventSink
) -> None:
    """After ``hand_to_queue`` the channel's carillon_call_id names the new call: a new
    process that owns that call adopts the channel under it (commands to the channel)."""
    new_call = "5eed0000-0012-4000-8000-000000000002"
    server = _listing_one_channel(esl_server, f'"variable_crm_call_id":"{new_call}","variable_crm_campaign_id":"3",'
                                              f'"variable_crm_transferred_from":"{CALL_09}"')
    control = backend(server, variable_prefix="crm_", owns_call=lambda call_id: call_id == new_call)
    human = sink.wait_for(EventKind.HUMAN, new_call)
    assert human.data["adopted"] == "true"
    assert control.tracker.calls[new_call].channel == CALL_09 and CALL_09 not in control.tracker.calls
    control.hangup(new_call)
    assert server.wait_for("api uuid_kill")[-1] == f"api uuid_kill {CALL_09} NORMAL_CLEARING"


def test_channels_without_our_variables_are_not_adopted(
    backend: Factory, esl_server, sink: EventSink
) -> None:
    script = SessionScript(
        steps=[
            Step("api show channels as json", [api_response(ACTIVE_ROWS)]),
            Step("api uuid_dump", [api_response(DUMP_09)]),
        ]
    )
    server = esl_server([script])
    control = backend(server, variable_prefix="crm_", owns_call=lambda call_id: True)
    server.wait_for("api uuid_dump")
    gevent.sleep(0.05)
    assert sink.events == [] and CALL_09 not in control.tracker.calls


def test_bridge_completed_during_the_outage_is_caught_up(
    backend: Factory, esl_server, sink: EventSink
) -> None:
    conferences = json.dumps(
        [
            {
                "conference_name": "agent-7-42",
                "members": [
                    {"uuid": CALL_09, "id": 10},
                    {"uuid": "a6e47000-0009-4000-8000-000000000042", "id": 9},
                ],
            }
        ]
    )
    script = SessionScript(
        steps=[
            Step("api conference json_list", [api_response(conferences)]),
            Step("api show channels as json", [api_response(ACTIVE_ROWS)]),
        ]
    )
    server = esl_server([SessionScript(), script])
    control = backend(server)
    control.originate(_request())
    server.wait_for("bgapi originate")
    server.drop()
    bridged = sink.wait_for(EventKind.BRIDGED, CALL_09)
    assert (bridged.agent_id, bridged.data["conference"], bridged.data["reconciled"]) == (
        42,
        "agent-7-42",
        "true",
    )
    assert sink.kinds(CALL_09) == [EventKind.RINGING, EventKind.ANSWERED, EventKind.HUMAN, EventKind.BRIDGED]
    assert control.tracker.calls[CALL_09].conference == "agent-7-42"


def test_foreign_channels_are_left_alone(backend: Factory, esl_server, sink: EventSink) -> None:
    server = esl_server([_listing(ACTIVE_ROWS)])
    backend(server, owns_call=lambda call_id: False)
    server.wait_for("api uuid_dump")
    gevent.sleep(0.05)
    assert sink.events == [] and not server.commands("api uuid_kill")


@pytest.mark.parametrize(
    ("listing", "outcome"), [(EARLY_ROWS, EventKind.RINGING), ('{"row_count": 0}\n', EventKind.HANGUP)]
)
def test_drop_while_the_originate_awaits_its_reply(
    backend: Factory, esl_server, sink: EventSink, listing: str, outcome: EventKind
) -> None:
    # FreeSWITCH may or may not have read the bgapi: never dial again, let the node say.
    unanswered = SessionScript(steps=[Step("bgapi originate", [])])
    server = esl_server([unanswered, _listing(listing, exists="false")])
    control = backend(server)
    originating = gevent.spawn(control.originate, _request())
    server.wait_for("bgapi originate")
    server.drop()
    originating.join(timeout=3)
    assert originating.successful()
    event = sink.wait_for(outcome, CALL_09)
    assert event.data["reconciled"] == "true"
    if outcome is EventKind.HANGUP:
        assert event.cause == CAUSE_CHANNEL_GONE
    else:
        assert CALL_09 in control.tracker.calls
    assert len(server.commands("bgapi originate")) == 1
