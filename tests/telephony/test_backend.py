"""FreeSwitchCallControl driven through recorded FreeSWITCH sessions over real TCP."""

from __future__ import annotations

from collections.abc import Callable

import gevent
import pytest

from telephony.callcontrol import (
    AgentCallControl,
    CallControl,
    CallControlError,
    EventKind,
    OriginateRequest,
    SupervisionMode,
    TransferKind,
)
from telephony.freeswitch.backend import CAUSE_NO_MEDIA_NODE, FreeSwitchCallControl
from telephony.freeswitch.nodes import FreeSwitchNode
from tests.telephony.conftest import EventSink
from tests.telephony.eslserver import (
    ScriptedEslServer,
    SessionScript,
    Step,
    api_response,
    json_event,
    load_sessions,
)

BackendFactory = Callable[..., FreeSwitchCallControl]


@pytest.fixture
def backend(start_control) -> BackendFactory:
    def make(*servers: ScriptedEslServer, **options: object) -> FreeSwitchCallControl:
        nodes = [
            FreeSwitchNode(name=f"fs{i + 1}", host="127.0.0.1", port=s.port, password="ClueCon",
                           sip_address=f"10.0.0.{i + 1}:5080")
            for i, s in enumerate(servers)
        ]
        return start_control(nodes, **{"recordings_dir": "/var/calls", **options})

    return make


def _request(call_id: str, **overrides: object) -> OriginateRequest:
    fields: dict = {
        "call_id": call_id,
        "tenant_id": 7,
        "campaign_id": 3,
        "lead_id": 11,
        "destination": "0601020304",
        "caller_id": "0162000000",
        "ring_timeout_s": 30,
    }
    fields.update(overrides)
    return OriginateRequest(**fields)


def test_the_backend_implements_both_protocols(backend: BackendFactory, esl_server) -> None:
    control = backend(esl_server([SessionScript()]))
    assert isinstance(control, FreeSwitchCallControl)
    as_call_control: CallControl = control
    as_agent_control: AgentCallControl = control
    assert as_call_control is as_agent_control


def test_answered_call_with_recording_dtmf_message_and_cdr(
    backend: BackendFactory, esl_server, sink: EventSink
) -> None:
    call_id = "c0ffee00-0003-4000-8000-000000000001"
    sessions = load_sessions("03_originate_answered")
    # start_recording sets RECORD_STEREO first (reply as recorded in fixture 10)
    sessions[0].steps.append(Step("api uuid_setvar x", [api_response("+OK")]))
    server = esl_server(sessions)
    control = backend(server)
    control.originate(_request(call_id, ring_timeout_s=5))
    sink.wait_for(EventKind.HUMAN, call_id)

    originate = server.commands("bgapi originate")[0]
    for expected in (
        f"origination_uuid={call_id}",
        "carillon_tenant_id=7",
        "carillon_campaign_id=3",
        "carillon_lead_id=11",
        f"carillon_call_id={call_id}",
        "origination_caller_id_number=0162000000",
        "originate_timeout=15",  # 5 s asked, 15 s is the legal floor
        "ignore_early_media=true",
        "}sofia/gateway/kamailio/0601020304 &park()",
        "\nJob-UUID: ",
    ):
        assert expected in originate

    path = control.start_recording(call_id)
    assert path == f"/var/calls/7/{call_id}.wav"
    sink.wait_for(EventKind.RECORDING_STARTED, call_id)
    control.pause_recording(call_id)
    control.resume_recording(call_id)
    control.send_dtmf(call_id, "123")
    control.play_message(call_id, "tone_stream://%(200,100,440);loops=3")
    hangup = sink.wait_for(EventKind.HANGUP, call_id)

    assert server.commands("api uuid_setvar") == [f"api uuid_setvar {call_id} RECORD_STEREO true"]
    assert server.commands("api uuid_record") == [
        f"api uuid_record {call_id} start {path}",
        f"api uuid_record {call_id} mask {path}",
        f"api uuid_record {call_id} unmask {path}",
    ]
    assert server.commands("api uuid_broadcast") == [
        f"api uuid_broadcast {call_id} tone_stream://%(200,100,440);loops=3 aleg"
    ]
    # The message is followed by the hangup, sent when PLAYBACK_STOP arrives.
    assert server.commands("api uuid_kill") == [f"api uuid_kill {call_id} NORMAL_CLEARING"]
    assert sink.kinds(call_id) == [
        EventKind.RINGING,
        EventKind.ANSWERED,
        EventKind.HUMAN,
        EventKind.RECORDING_STARTED,
        EventKind.RECORDING_STOPPED,
        EventKind.HANGUP,
    ]
    assert hangup.cause == "NORMAL_CLEARING"
    assert (hangup.data["billsec"], hangup.data["rtp_audio_in_mos"], hangup.data["node"]) == (
        "7",
        "4.50",
        "fs1",
    )
    assert control.active_calls() == {"fs1": 0}


@pytest.mark.parametrize(
    ("name", "call_id", "kinds", "cause", "q850"),
    [
        ("04_originate_busy", "c0ffee00-0004-4000-8000-000000000001", [EventKind.HANGUP], "USER_BUSY", "17"),
        (
            "05_originate_noanswer",
            "c0ffee00-0005-4000-8000-000000000001",
            [EventKind.RINGING, EventKind.HANGUP],
            "NO_ANSWER",
            "19",
        ),
        (
            "06_originate_unavailable",
            "c0ffee00-0006-4000-8000-000000000001",
            [EventKind.HANGUP],
            "NORMAL_TEMPORARY_FAILURE",
            "41",
        ),
    ],
)
def test_unanswered_outcomes(
    backend: BackendFactory,
    esl_server,
    sink: EventSink,
    name: str,
    call_id: str,
    kinds: list,
    cause: str,
    q850: str,
) -> None:
    control = backend(esl_server(load_sessions(name)), event_format="plain")
    control.originate(_request(call_id))
    hangup = sink.wait_for(EventKind.HANGUP, call_id)
    gevent.sleep(0.05)  # let any late BACKGROUND_JOB arrive: it must not add a second HANGUP
    assert sink.kinds(call_id) == kinds
    assert (hangup.cause, hangup.data["hangup_cause_q850"]) == (cause, q850)


def test_originate_error_without_channel(backend: BackendFactory, esl_server, sink: EventSink) -> None:
    call_id = "c0ffee00-0011-4000-8000-000000000001"
    control = backend(esl_server(load_sessions("11_errors")))
    control.originate(_request(call_id))
    assert sink.wait_for(EventKind.HANGUP, call_id).cause == "CHAN_NOT_IMPLEMENTED"


def _conference_rename(tenant: int, agent: str) -> Callable[[str], str]:
    return lambda body: body.replace(f"agent_{agent}", f"agent-{tenant}-{agent}")


def _agent_login(control: FreeSwitchCallControl, agent: str) -> None:
    # In production the agent's browser leg dials in; here the recorded originate.
    control.clients["fs1"].bgapi(
        f"originate {{origination_uuid=a6e47000-0007-4000-8000-0000000000{agent}}}null/agent{agent} &conference(agent-7-{agent}@default)"
    )


def test_bridge_to_agent_conference(backend: BackendFactory, esl_server, sink: EventSink) -> None:
    call_id = "c0ffee00-0007-4000-8000-000000000001"
    server = esl_server(load_sessions("07_agent_conference", rewrite=_conference_rename(7, "42")))
    control = backend(server)
    _agent_login(control, "42")
    control.originate(_request(call_id))
    sink.wait_for(EventKind.HUMAN, call_id)
    assert control.conferences.get("agent-7-42") is not None

    control.bridge_to_agent(call_id, 42)
    bridged = sink.wait_for(EventKind.BRIDGED, call_id)
    assert server.commands("api uuid_transfer") == [
        f"api uuid_transfer {call_id} conference:agent-7-42@default inline"
    ]
    assert (bridged.agent_id, bridged.data["conference"]) == (42, "agent-7-42")

    with pytest.raises(CallControlError):  # not recorded in 07: the idle server refuses
        control.mute_agent(call_id, True)
    assert server.commands("api conference agent-7-42 mute") == ["api conference agent-7-42 mute 9"]
    control.hangup(call_id)
    hangup = sink.wait_for(EventKind.HANGUP, call_id)
    assert (hangup.cause, hangup.agent_id) == ("NORMAL_CLEARING", 42)
    assert sink.kinds(call_id) == [EventKind.ANSWERED, EventKind.HUMAN, EventKind.BRIDGED, EventKind.HANGUP]


def test_bridge_before_answer_is_refused(backend: BackendFactory, esl_server) -> None:
    control = backend(esl_server([SessionScript()]))
    with pytest.raises(CallControlError):
        control.bridge_to_agent("c0ffee00-0000-4000-8000-000000000009", 42)


def test_supervision_modes_use_conference_member_controls(
    backend: BackendFactory, esl_server, sink: EventSink
) -> None:
    call_id = "c0ffee00-0008-4000-8000-000000000002"
    server = esl_server(load_sessions("08b_conference_monitor", rewrite=_conference_rename(7, "45")))
    control = backend(server)
    control.clients["fs1"].bgapi(
        "originate {origination_uuid=a6e47000-0008-4000-8000-000000000045}null/agent45 &conference(agent-7-45@default)"
    )
    control.originate(_request(call_id))
    sink.wait_for(EventKind.HUMAN, call_id)
    control.bridge_to_agent(call_id, 45)
    sink.wait_for(EventKind.BRIDGED, call_id)

    # The recorded supervisor leg's uuid (member 13 in the replayed events).
    leg = "5e7e0000-0008-4000-8000-000000000010"
    supervision = control.supervise(call_id, 10, "null/sup10", SupervisionMode.LISTEN, leg_uuid=leg)
    assert supervision == leg
    server.wait_for("api conference agent-7-45 mute 13")
    sup_originate = server.commands("bgapi originate")[-1]
    assert "carillon_supervised_call_id=" + call_id in sup_originate
    assert f"origination_uuid={leg}," in sup_originate
    assert sup_originate.endswith("null/sup10 &conference(agent-7-45@default+flags{mute})")

    control.set_supervision_mode(supervision, SupervisionMode.WHISPER)
    control.set_supervision_mode(supervision, SupervisionMode.BARGE)
    control.set_supervision_mode(supervision, SupervisionMode.TAKE_OVER)
    control.set_supervision_mode(supervision, SupervisionMode.LISTEN)
    control.end_supervision(supervision)
    assert server.commands("api conference agent-7-45") == [
        # joined muted: listen
        "api conference agent-7-45 relate 13 12 clear",
        "api conference agent-7-45 mute 13",
        # whisper: the agent hears the supervisor, the customer does not
        "api conference agent-7-45 relate 13 12 nospeak",
        "api conference agent-7-45 unmute 13",
        # barge: everybody hears everybody
        "api conference agent-7-45 relate 13 12 clear",
        "api conference agent-7-45 unmute 13",
        # take over: the agent (member 11) is muted and deafened
        "api conference agent-7-45 relate 13 12 clear",
        "api conference agent-7-45 unmute 13",
        "api conference agent-7-45 mute 11",
        "api conference agent-7-45 deaf 11",
        # back to listening gives the agent back the call
        "api conference agent-7-45 undeaf 11",
        "api conference agent-7-45 unmute 11",
        "api conference agent-7-45 relate 13 12 clear",
        "api conference agent-7-45 mute 13",
        "api conference agent-7-45 hup 13",
    ]
    control.hangup(call_id)
    sink.wait_for(EventKind.HANGUP, call_id)


def test_transfers_hold(backend: BackendFactory, esl_server, sink: EventSink) -> None:
    call_id = "c0ffee00-0003-4000-8000-000000000001"
    server = esl_server(load_sessions("03_originate_answered"))
    control = backend(server)
    control.originate(_request(call_id))
    sink.wait_for(EventKind.ANSWERED, call_id)
    for action in (
        lambda: control.hold(call_id, True),
        lambda: control.hold(call_id, False),
        lambda: control.transfer(call_id, TransferKind.EXTERNAL, "+33612345678"),
        lambda: control.transfer(call_id, TransferKind.QUEUE, "5"),
    ):
        # Not recorded: the idle server says "-ERR No such channel!", which must surface.
        with pytest.raises(CallControlError, match="No such channel"):
            action()
    assert server.commands("api uuid_hold") == [f"api uuid_hold {call_id}", f"api uuid_hold off {call_id}"]
    assert server.commands("api uuid_transfer") == [
        f"api uuid_transfer {call_id} bridge:sofia/gateway/kamailio/+33612345678 inline",
        f"api uuid_transfer {call_id} queue-5 XML tenant-7",
    ]
    with pytest.raises(ValueError):
        control.transfer(call_id, TransferKind.EXTERNAL, "0601 020304; exit")


def test_new_calls_go_to_the_least_busy_node(backend: BackendFactory, esl_server, sink: EventSink) -> None:
    first, second = esl_server([SessionScript()]), esl_server([SessionScript()])
    control = backend(first, second)
    ids = [f"c0ffee00-00{n:02d}-4000-8000-000000000001" for n in range(4)]
    for call_id in ids:
        control.originate(_request(call_id))
    assert control.active_calls() == {"fs1": 2, "fs2": 2}
    assert len(first.commands("bgapi originate")) == len(second.commands("bgapi originate")) == 2
    assert {control.tracker.calls[i].node for i in ids} == {"fs1", "fs2"}


def test_no_connected_node_fails_the_call_at_once(sink: EventSink) -> None:
    node = FreeSwitchNode(name="fs1", host="127.0.0.1", port=9, password="x")
    control = FreeSwitchCallControl([node], sink)
    control.originate(_request("c0ffee00-0000-4000-8000-000000000001"))
    assert [(e.kind, e.cause) for e in sink.events] == [(EventKind.HANGUP, CAUSE_NO_MEDIA_NODE)]


def test_hangup_before_the_channel_exists_kills_it_when_it_appears(
    backend: BackendFactory, esl_server, sink: EventSink
) -> None:
    call_id = "c0ffee00-0005-4000-8000-000000000001"
    server = esl_server([SessionScript()])
    control = backend(server)
    control.originate(_request(call_id))
    control.hangup(call_id, "ORIGINATOR_CANCEL")  # idle server: "-ERR No such channel!"
    server.push(json_event({"Event-Name": "CHANNEL_CREATE", "Unique-ID": call_id}))
    server.wait_for("api uuid_kill", count=2)
    assert server.commands("api uuid_kill")[-1] == f"api uuid_kill {call_id} ORIGINATOR_CANCEL"


def test_customer_and_agent_on_different_nodes_are_linked_over_sip(
    backend: BackendFactory, esl_server, sink: EventSink
) -> None:
    call_id = "c0ffee00-0012-4000-8000-000000000001"
    agent_leg = "a6e47000-0012-4000-8000-000000000042"
    first = esl_server([SessionScript(steps=[Step("api uuid_transfer", [api_response("+OK\n")])])])
    second = esl_server([SessionScript()])
    control = backend(first, second)
    # The agent's browser leg landed on node 2 (Kamailio's dispatcher chose it).
    second.push(
        json_event(
            {
                "Event-Name": "CUSTOM",
                "Event-Subclass": "conference::maintenance",
                "Action": "add-member",
                "Conference-Name": "agent-7-42",
                "Unique-ID": agent_leg,
                "Member-ID": "5",
            }
        )
    )
    with gevent.Timeout(3):
        while control.conferences.get("agent-7-42") is None:
            gevent.sleep(0.01)
    control.originate(_request(call_id))
    assert control.tracker.calls[call_id].node == "fs1"
    first.push(json_event({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": call_id}))
    sink.wait_for(EventKind.HUMAN, call_id)

    control.bridge_to_agent(call_id, 42)
    assert first.commands("api uuid_transfer") == [
        f"api uuid_transfer {call_id} bridge:sofia/interconnect/agent-7-42@10.0.0.2:5080 inline"
    ]
    first.push(
        json_event(
            {
                "Event-Name": "CHANNEL_BRIDGE",
                "Unique-ID": call_id,
                "Other-Leg-Unique-ID": "b1eb0000-0012-4000-8000-000000000001",
            }
        )
    )
    bridged = sink.wait_for(EventKind.BRIDGED, call_id)
    assert (bridged.agent_id, bridged.data["mode"], bridged.data["node"]) == (42, "bridge", "fs1")


def test_answering_machine_detection_with_mod_avmd(
    backend: BackendFactory, esl_server, sink: EventSink
) -> None:
    from telephony.freeswitch.amd import ModAvmd

    call_id = "c0ffee00-0013-4000-8000-000000000001"
    server = esl_server(
        [
            SessionScript(
                steps=[
                    Step("api avmd", [api_response("+OK\n")]),
                    Step("api sched_api", [api_response("+OK Added: 1\n")]),
                ]
            )
        ]
    )
    control = backend(server, detector=ModAvmd())
    assert server.wait_for("event json")[0].endswith(" CUSTOM conference::maintenance avmd::beep avmd::stop")
    control.originate(_request(call_id, amd=True))
    assert server.commands("bgapi originate")[0].split("\n")[0].endswith(" &park()")
    server.push(json_event({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": call_id}))
    sink.wait_for(EventKind.ANSWERED, call_id)
    server.wait_for(f"api avmd {call_id} start")
    # mod_avmd has no time limit of its own (real 1.11.1): FreeSWITCH stops it later.
    server.wait_for(f"api sched_api +10 none avmd {call_id} stop")
    assert sink.kinds(call_id) == [EventKind.ANSWERED]  # no verdict yet: the dialer waits
    server.push(
        json_event(
            {
                "Event-Name": "CUSTOM",
                "Event-Subclass": "avmd::beep",
                "Unique-ID": call_id,
                "Frequency": "1000",
            }
        )
    )
    machine = sink.wait_for(EventKind.MACHINE, call_id)
    assert machine.data["amd_result"] == "BEEP"
    control.play_message(call_id, "/var/lib/carillon/prompts/7/voicemail.wav")  # D4: leave the message
    assert server.commands("api uuid_broadcast") == [
        f"api uuid_broadcast {call_id} /var/lib/carillon/prompts/7/voicemail.wav aleg"
    ]


def test_answering_machine_detection_with_mod_amd_runs_before_park(
    backend: BackendFactory, esl_server, sink: EventSink
) -> None:
    from telephony.freeswitch.amd import ModAmd

    call_id = "c0ffee00-0014-4000-8000-000000000001"
    server = esl_server([SessionScript()])
    control = backend(server, detector=ModAmd())
    control.originate(_request(call_id, amd=True, record=True))
    line = server.commands("bgapi originate")[0].split("\n")[0]
    assert line.endswith(f" 'record_session:/var/calls/7/{call_id}.wav,amd,park' inline")
    server.push(json_event({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": call_id}))
    sink.wait_for(EventKind.ANSWERED, call_id)
    server.push(
        json_event(
            {
                "Event-Name": "CHANNEL_EXECUTE_COMPLETE",
                "Unique-ID": call_id,
                "Application": "amd",
                "variable_amd_result": "HUMAN",
                "variable_amd_cause": "SILENCEAFTERGREETING",
            }
        )
    )
    assert sink.wait_for(EventKind.HUMAN, call_id).data["amd_cause"] == "SILENCEAFTERGREETING"
    assert not server.commands("api avmd")
