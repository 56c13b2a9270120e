"""Against a real FreeSWITCH: set FREESWITCH_ESL=host:port:password to run these.

The node needs the vanilla modules these tests use (mod_loopback for ``null/``,
mod_dptools for ``error/``, mod_conference with a ``default`` profile, mod_tone_stream,
mod_sndfile). Legs go to the ``null`` endpoint, which answers at once and carries
no RTP, and to ``error/<cause>``, which fails at once with that cause. With
FREESWITCH_SIPP_UAS=host:port (a SIPp UAS started with ``-rtp_echo`` that FreeSWITCH
reaches through its ``FREESWITCH_SIPP_PROFILE`` sofia profile, default ``external``)
one more test places a real SIP call and checks the RTP quality figures.
FREESWITCH_RECORDINGS_DIR (default /tmp) must be writable by FreeSWITCH.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import gevent
import pytest

from telephony.callcontrol import EventKind, OriginateRequest, SupervisionMode
from telephony.freeswitch.backend import FreeSwitchCallControl
from telephony.freeswitch.nodes import FreeSwitchNode
from tests.telephony.conftest import EventSink

ESL = os.environ.get("FREESWITCH_ESL", "")
SIPP_UAS = os.environ.get("FREESWITCH_SIPP_UAS", "")
SIPP_PROFILE = os.environ.get("FREESWITCH_SIPP_PROFILE", "external")
RECORDINGS = os.environ.get("FREESWITCH_RECORDINGS_DIR", "/tmp")

pytestmark = [
    pytest.mark.freeswitch,
    pytest.mark.skipif(
        not ESL, reason="FREESWITCH_ESL=host:port:password is not set: no FreeSWITCH to test against"
    ),
]


def _control(sink: EventSink, dial_template: str) -> FreeSwitchCallControl:
    node = FreeSwitchNode.from_esl_setting(ESL, name="fs-it")
    node = FreeSwitchNode(
        name=node.name, host=node.host, port=node.port, password=node.password, dial_template=dial_template
    )
    control = FreeSwitchCallControl(
        [node], sink, recordings_dir=RECORDINGS, backoff_initial=0.2, backoff_max=1.0
    )
    assert control.start(wait_s=5), "could not log in to FreeSWITCH's event socket"
    return control


@pytest.fixture
def null_control(sink: EventSink) -> Iterator[FreeSwitchCallControl]:
    control = _control(sink, "null/{destination}")
    yield control
    for call_id in list(control.tracker.calls):
        control.hangup(call_id)
    with gevent.Timeout(10):
        control.stop()


def _request(**overrides: object) -> OriginateRequest:
    fields: dict = {
        "call_id": str(uuid.uuid4()),
        "tenant_id": 7,
        "campaign_id": 3,
        "lead_id": 11,
        "destination": "0601020304",
        "caller_id": "0162000000",
        "ring_timeout_s": 20,
    }
    fields.update(overrides)
    return OriginateRequest(**fields)


def _api(control: FreeSwitchCallControl, command: str) -> str:
    return control.clients["fs-it"].api(command)


def test_answered_call_then_hangup_with_cdr(null_control: FreeSwitchCallControl, sink: EventSink) -> None:
    request = _request()
    null_control.originate(request)
    answered = sink.wait_for(EventKind.ANSWERED, request.call_id, timeout=10)
    assert answered.data["node"] == "fs-it"
    assert sink.wait_for(EventKind.HUMAN, request.call_id).data["amd"] == "off"
    # The channel carries the application's identifiers.
    for name, value in (
        ("carillon_tenant_id", "7"),
        ("carillon_campaign_id", "3"),
        ("carillon_lead_id", "11"),
        ("carillon_call_id", request.call_id),
    ):
        assert _api(null_control, f"uuid_getvar {request.call_id} {name}").strip() == value
    gevent.sleep(1.2)  # at least one billed second
    null_control.hangup(request.call_id)
    hangup = sink.wait_for(EventKind.HANGUP, request.call_id, timeout=10)
    assert hangup.cause == "NORMAL_CLEARING"
    assert hangup.data["hangup_cause_q850"] == "16"
    assert int(hangup.data["billsec"]) >= 1
    assert int(hangup.data["duration"]) >= int(hangup.data["billsec"])
    # Whether a null leg signals progress before answering is the endpoint's business.
    kinds = [k for k in sink.kinds(request.call_id) if k is not EventKind.RINGING]
    assert kinds == [EventKind.ANSWERED, EventKind.HUMAN, EventKind.HANGUP]
    assert _api(null_control, f"uuid_exists {request.call_id}").strip() == "false"


def test_busy_destination(sink: EventSink) -> None:
    control = _control(sink, "error/USER_BUSY")
    try:
        request = _request()
        control.originate(request)
        hangup = sink.wait_for(EventKind.HANGUP, request.call_id, timeout=10)
        assert hangup.cause == "USER_BUSY"
        assert EventKind.ANSWERED not in sink.kinds(request.call_id)
    finally:
        with gevent.Timeout(10):
            control.stop()


def test_message_then_hangup(null_control: FreeSwitchCallControl, sink: EventSink) -> None:
    request = _request()
    null_control.originate(request)
    sink.wait_for(EventKind.ANSWERED, request.call_id, timeout=10)
    null_control.play_message(request.call_id, "tone_stream://%(200,100,440);loops=2")
    hangup = sink.wait_for(EventKind.HANGUP, request.call_id, timeout=15)
    assert hangup.cause == "NORMAL_CLEARING"


def test_recording_with_card_payment_pause(null_control: FreeSwitchCallControl, sink: EventSink) -> None:
    request = _request(record=True)
    null_control.originate(request)
    started = sink.wait_for(EventKind.RECORDING_STARTED, request.call_id, timeout=10)
    assert started.data["path"] == f"{RECORDINGS.rstrip('/')}/7/{request.call_id}.wav"
    null_control.pause_recording(request.call_id)
    gevent.sleep(0.5)
    null_control.resume_recording(request.call_id)
    gevent.sleep(0.5)
    null_control.hangup(request.call_id)
    stopped = sink.wait_for(EventKind.RECORDING_STOPPED, request.call_id, timeout=10)
    assert stopped.data["path"] == started.data["path"]
    hangup = sink.wait_for(EventKind.HANGUP, request.call_id, timeout=10)
    assert "record_seconds" in hangup.data


def test_bridge_into_the_agent_conference(null_control: FreeSwitchCallControl, sink: EventSink) -> None:
    agent_leg = str(uuid.uuid4())
    conference = "agent-7-42"
    reply = _api(
        null_control,
        f"originate {{origination_uuid={agent_leg}}}null/agent42 &conference({conference}@default)",
    )
    assert reply.startswith("+OK"), reply
    try:
        with gevent.Timeout(10, AssertionError("the agent never joined its conference")):
            while null_control.conferences.get(conference) is None:
                gevent.sleep(0.05)
        request = _request()
        null_control.originate(request)
        sink.wait_for(EventKind.HUMAN, request.call_id, timeout=10)
        null_control.bridge_to_agent(request.call_id, 42)
        bridged = sink.wait_for(EventKind.BRIDGED, request.call_id, timeout=10)
        assert (bridged.agent_id, bridged.data["conference"]) == (42, conference)
        null_control.mute_agent(request.call_id, True)
        null_control.mute_agent(request.call_id, False)
        null_control.hangup(request.call_id)
        hangup = sink.wait_for(EventKind.HANGUP, request.call_id, timeout=10)
        assert hangup.agent_id == 42
        # The agent's long call survives the customer's hangup.
        assert _api(null_control, f"uuid_exists {agent_leg}").strip() == "true"
    finally:
        _api(null_control, f"uuid_kill {agent_leg}")


def test_reconnect_reconciles_a_live_call(null_control: FreeSwitchCallControl, sink: EventSink) -> None:
    request = _request()
    null_control.originate(request)
    sink.wait_for(EventKind.ANSWERED, request.call_id, timeout=10)
    client = null_control.clients["fs-it"]
    sessions = client.connections_made
    client.reconnect()
    with gevent.Timeout(10, AssertionError("no new ESL session")):
        while client.connections_made == sessions or not client.connected:
            gevent.sleep(0.05)
    gevent.sleep(0.5)  # reconciliation ran
    assert EventKind.HANGUP not in sink.kinds(request.call_id)
    assert sink.kinds(request.call_id).count(EventKind.ANSWERED) == 1
    null_control.hangup(request.call_id)
    assert sink.wait_for(EventKind.HANGUP, request.call_id, timeout=10).cause == "NORMAL_CLEARING"


@pytest.mark.skipif(not SIPP_UAS, reason="FREESWITCH_SIPP_UAS=host:port is not set: no SIPp UAS to call")
def test_sip_call_to_sipp_reports_rtp_quality(sink: EventSink) -> None:
    control = _control(sink, f"sofia/{SIPP_PROFILE}/{{destination}}@{SIPP_UAS}")
    try:
        request = _request()
        control.originate(request)
        sink.wait_for(EventKind.ANSWERED, request.call_id, timeout=20)
        control.send_dtmf(request.call_id, "123")
        gevent.sleep(2)
        control.hangup(request.call_id)
        hangup = sink.wait_for(EventKind.HANGUP, request.call_id, timeout=10)
        assert hangup.cause == "NORMAL_CLEARING"
        assert float(hangup.data["rtp_audio_in_mos"]) > 0
        assert "rtp_audio_in_jitter_loss_rate" in hangup.data
        assert int(hangup.data["rtp_audio_in_packet_count"]) > 0
        assert hangup.data["sip_hangup_disposition"] == "send_bye"
    finally:
        with gevent.Timeout(10):
            control.stop()


@pytest.mark.skipif(not SIPP_UAS, reason="FREESWITCH_SIPP_UAS=host:port is not set: no SIPp UAS to call")
def test_mod_avmd_concludes_on_a_person(sink: EventSink) -> None:
    """No beep on the line (SIPp echoes our silence): mod_avmd 1.11.1 never concludes by
    itself, so the detector's scheduled stop must turn into a HUMAN verdict."""
    from telephony.freeswitch.amd import ModAvmd

    node = FreeSwitchNode.from_esl_setting(ESL, name="fs-it")
    node = FreeSwitchNode(
        name=node.name,
        host=node.host,
        port=node.port,
        password=node.password,
        dial_template=f"sofia/{SIPP_PROFILE}/{{destination}}@{SIPP_UAS}",
    )
    control = FreeSwitchCallControl(
        [node], sink, detector=ModAvmd(max_wait_s=2), recordings_dir=RECORDINGS, backoff_initial=0.2
    )
    assert control.start(wait_s=5), "could not log in to FreeSWITCH's event socket"
    try:
        request = _request(amd=True)
        control.originate(request)
        sink.wait_for(EventKind.ANSWERED, request.call_id, timeout=20)
        human = sink.wait_for(EventKind.HUMAN, request.call_id, timeout=8)
        assert (human.data["amd_result"], human.data["amd_cause"]) == ("NOBEEP", "NOTDETECTED")
        assert EventKind.MACHINE not in sink.kinds(request.call_id)
        control.hangup(request.call_id)
        assert sink.wait_for(EventKind.HANGUP, request.call_id, timeout=10).cause == "NORMAL_CLEARING"
    finally:
        with gevent.Timeout(10):
            control.stop()


def _member_flags(control: FreeSwitchCallControl, conference: str, uuid: str) -> dict:
    rows = json.loads(_api(control, f"conference {conference} json_list"))
    members = [m for c in rows for m in c.get("members", []) if m.get("uuid") == uuid]
    assert members, f"{uuid} is not in {conference}"
    return members[0]["flags"]


def test_supervision_in_the_agent_conference(null_control: FreeSwitchCallControl, sink: EventSink) -> None:
    """Listen, whisper, barge and take-over with the conference member controls
    (fixture 08b), on null legs: no eavesdrop, which crashed 1.11.1 with null legs."""
    agent_leg = str(uuid.uuid4())
    conference = "agent-7-43"
    reply = _api(
        null_control,
        f"originate {{origination_uuid={agent_leg}}}null/agent43 &conference({conference}@default)",
    )
    assert reply.startswith("+OK"), reply
    try:
        request = _request()
        null_control.originate(request)
        sink.wait_for(EventKind.HUMAN, request.call_id, timeout=10)
        with gevent.Timeout(10, AssertionError("the agent never joined its conference")):
            while null_control.conferences.get(conference) is None:
                gevent.sleep(0.05)
        null_control.bridge_to_agent(request.call_id, 43)
        sink.wait_for(EventKind.BRIDGED, request.call_id, timeout=10)
        sup = null_control.supervise(request.call_id, 10, "null/sup10", SupervisionMode.LISTEN)
        with gevent.Timeout(10, AssertionError("the supervisor never joined")):
            while null_control.supervisions[sup].member_id is None:
                gevent.sleep(0.05)
        gevent.sleep(0.3)  # the listen controls are sent after add-member
        flags = _member_flags(null_control, conference, sup)
        assert (flags["can_hear"], flags["can_speak"]) == (True, False)
        null_control.set_supervision_mode(sup, SupervisionMode.WHISPER)
        assert _member_flags(null_control, conference, sup)["can_speak"] is True
        null_control.set_supervision_mode(sup, SupervisionMode.TAKE_OVER)
        agent_flags = _member_flags(null_control, conference, agent_leg)
        assert (agent_flags["can_hear"], agent_flags["can_speak"]) == (False, False)
        null_control.set_supervision_mode(sup, SupervisionMode.BARGE)
        agent_flags = _member_flags(null_control, conference, agent_leg)
        assert (agent_flags["can_hear"], agent_flags["can_speak"]) == (True, True)
        null_control.end_supervision(sup)
        with gevent.Timeout(10, AssertionError("the supervisor leg is still up")):
            while _api(null_control, f"uuid_exists {sup}").strip() != "false":
                gevent.sleep(0.1)
        assert sup not in null_control.supervisions
        null_control.hangup(request.call_id)
        assert sink.wait_for(EventKind.HANGUP, request.call_id, timeout=10).agent_id == 43
    finally:
        _api(null_control, f"uuid_kill {agent_leg}")
