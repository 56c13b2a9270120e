"""Recordings are stereo (customer on the left, agent on the right): FreeSWITCH's
``RECORD_STEREO`` channel variable must be on the channel before ``record_session`` or
``uuid_record start`` runs. Against the scripted ESL server (FreeSWITCH mocked by
replaying recorded sessions), and, with FREESWITCH_ESL set, against a real node whose
WAV is read back with ``wave``."""

from __future__ import annotations

import pathlib
import uuid
import wave
from collections.abc import Callable, Iterator

import gevent
import numpy as np
import pytest

from telephony.callcontrol import CallControlError, EventKind, OriginateRequest
from telephony.freeswitch import commands
from telephony.freeswitch.backend import FreeSwitchCallControl
from telephony.freeswitch.nodes import FreeSwitchNode
from tests.telephony.conftest import EventSink
from tests.telephony.eslserver import ScriptedEslServer, SessionScript, Step, api_response, load_sessions
from tests.telephony.test_freeswitch_integration import ESL, RECORDINGS

ANSWERED = "c0ffee00-0003-4000-8000-000000000001"  # the call of fixture 03
SETVAR = f"api uuid_setvar {ANSWERED} RECORD_STEREO true"


def _request(call_id: str = ANSWERED, **overrides: object) -> OriginateRequest:
    fields: dict = {"call_id": call_id, "tenant_id": 7, "campaign_id": 3, "lead_id": 11,
                    "destination": "0601020304", "caller_id": "0162000000", "ring_timeout_s": 20}
    fields.update(overrides)
    return OriginateRequest(**fields)


@pytest.fixture
def scripted() -> Iterator[Callable[[list[SessionScript]], tuple[ScriptedEslServer, FreeSwitchCallControl, EventSink]]]:
    servers: list[ScriptedEslServer] = []
    controls: list[FreeSwitchCallControl] = []

    def make(sessions: list[SessionScript]) -> tuple[ScriptedEslServer, FreeSwitchCallControl, EventSink]:
        server = ScriptedEslServer(sessions).start()
        sink = EventSink()
        node = FreeSwitchNode(name="fs1", host="127.0.0.1", port=server.port, password="ClueCon",
                              sip_address="10.0.0.1:5080")
        control = FreeSwitchCallControl([node], sink, recordings_dir="/var/calls", backoff_initial=0.05,
                                        backoff_max=0.2, connect_timeout=1.0)
        servers.append(server)
        controls.append(control)
        assert control.start(wait_s=3)
        return server, control, sink

    yield make
    for control in controls:
        with gevent.Timeout(5):
            control.stop()
    for server in servers:
        server.stop()


def _originate_line(server: ScriptedEslServer) -> str:
    return server.wait_for("bgapi originate")[0].split("\n")[0]


def test_a_recorded_originate_sets_record_stereo_before_record_session(scripted) -> None:
    server, control, _ = scripted([SessionScript()])
    control.originate(_request(record=True))
    line = _originate_line(server)
    variables = line.split("{", 1)[1].split("}", 1)[0].split(",")
    assert "RECORD_STEREO=true" in variables
    assert line.endswith(f" 'record_session:/var/calls/7/{ANSWERED}.wav,park' inline")


def test_an_unrecorded_originate_leaves_record_stereo_alone(scripted) -> None:
    server, control, _ = scripted([SessionScript()])
    control.originate(_request(record=False, variables={"RECORD_STEREO": "false"}))
    line = _originate_line(server)
    assert "RECORD_STEREO" not in line.replace("carillon_RECORD_STEREO=false", "")
    # a caller's variable is namespaced: it cannot switch the product's recording mode
    assert "carillon_RECORD_STEREO=false" in line


def test_start_recording_sets_record_stereo_on_the_channel_first(scripted) -> None:
    """An inbound call, or a call dialled unrecorded: the variable is set with
    ``uuid_setvar`` (reply as recorded in fixture 10) before ``uuid_record start``."""
    sessions = load_sessions("03_originate_answered")
    sessions[0].steps.append(Step("api uuid_setvar x", [api_response("+OK")]))
    server, control, sink = scripted(sessions)
    control.originate(_request())
    sink.wait_for(EventKind.ANSWERED, ANSWERED)
    assert "RECORD_STEREO" not in _originate_line(server)
    path = control.start_recording(ANSWERED)
    sink.wait_for(EventKind.RECORDING_STARTED, ANSWERED)
    sent = [c for c in server.received if c.startswith(("api uuid_setvar", "api uuid_record"))]
    assert sent == [SETVAR, f"api uuid_record {ANSWERED} start {path}"]


def test_start_recording_on_a_channel_that_refuses_the_variable_records_nothing(scripted) -> None:
    """The idle answer ``-ERR No such channel!``: a clear error, no ``uuid_record`` sent."""
    server, control, sink = scripted(load_sessions("03_originate_answered"))
    control.originate(_request())
    sink.wait_for(EventKind.ANSWERED, ANSWERED)
    with pytest.raises(CallControlError, match="uuid_setvar on fs1: -ERR No such channel!"):
        control.start_recording(ANSWERED)
    assert server.commands("api uuid_setvar") == [SETVAR]
    assert server.commands("api uuid_record") == []


def test_split_parts_stay_stereo_without_setting_it_again(scripted) -> None:
    """The variable belongs to the channel: the parts after a split read it as the first
    did, so a split sends only stop and start (no command in the gap)."""
    sessions = load_sessions("03_originate_answered")
    sessions[0].steps.append(Step("api uuid_record x stop y", [api_response("+OK Success\n")]))
    server, control, sink = scripted(sessions)
    control.originate(_request(record=True))
    sink.wait_for(EventKind.ANSWERED, ANSWERED)
    assert "RECORD_STEREO=true" in _originate_line(server)
    closed, opened = control.split_recording(ANSWERED, 2)
    assert server.commands("api uuid_setvar") == []
    assert server.commands("api uuid_record") == [f"api uuid_record {ANSWERED} stop {closed}",
                                                  f"api uuid_record {ANSWERED} start {opened}"]


def test_uuid_setvar_command_refuses_injection() -> None:
    assert commands.uuid_setvar(ANSWERED, "RECORD_STEREO", "true") == f"uuid_setvar {ANSWERED} RECORD_STEREO true"
    for name, value in (("RECORD STEREO", "true"), ("RECORD_STEREO", "true\n\napi shutdown"),
                        ("RECORD_STEREO", "true false"), ("RECORD_STEREO", "")):
        with pytest.raises(ValueError):
            commands.uuid_setvar(ANSWERED, name, value)
    with pytest.raises(ValueError):
        commands.uuid_setvar("not-a-uuid", "RECORD_STEREO", "true")


# -- against a real FreeSWITCH ------------------------------------------------------------


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


@pytest.mark.freeswitch
@pytest.mark.skipif(not ESL, reason="FREESWITCH_ESL=host:port:password is not set: no FreeSWITCH to test against")
@pytest.mark.parametrize("how", ["originate", "start_recording"])
def test_a_real_node_writes_a_two_channel_wav(sink: EventSink, how: str) -> None:
    """A ``null/`` call (silent customer) recorded either from the originate or with
    ``start_recording`` after the answer; a tone is sent to the customer, as the agent's
    voice would be: it lands on the right channel only, the left one stays silent."""
    from tests.telephony.test_freeswitch_integration import _control

    control = _control(sink, "null/{destination}")
    request = _request(str(uuid.uuid4()), record=how == "originate")
    try:
        control.originate(request)
        sink.wait_for(EventKind.ANSWERED, request.call_id, timeout=10)
        if how == "start_recording":
            control.start_recording(request.call_id)
        started = sink.wait_for(EventKind.RECORDING_STARTED, request.call_id, timeout=10)
        control.play_message(request.call_id, "tone_stream://%(1500,0,800)")  # 1.5 s, towards the customer
        gevent.sleep(2.0)
        control.hangup(request.call_id)
        stopped = sink.wait_for(EventKind.RECORDING_STOPPED, request.call_id, timeout=10)
    finally:
        for live in list(control.tracker.calls):
            control.hangup(live)
        with gevent.Timeout(10):
            control.stop()
    path = pathlib.Path(stopped.data["path"])
    assert path == pathlib.Path(started.data["path"]) == pathlib.Path(
        f"{RECORDINGS.rstrip('/')}/7/{request.call_id}.wav")
    try:
        with wave.open(str(path), "rb") as wav:
            channels, rate, frames = wav.getnchannels(), wav.getframerate(), wav.getnframes()
            samples = np.frombuffer(wav.readframes(frames), dtype="<i2").reshape(-1, channels)
    finally:
        path.unlink(missing_ok=True)
    print(f"\n{how}: {path.name}: {channels} channels, {rate} Hz, {frames / rate:.2f} s, "
          f"RMS left {_rms(samples[:, 0]):.0f}, right {_rms(samples[:, 1]):.0f}")
    assert channels == 2
    assert frames / rate >= 1.0  # the 1.5 s tone at least (1.52 s measured)
    assert _rms(samples[:, 1]) > 1000, "the tone sent to the customer is on the right channel"
    assert _rms(samples[:, 0]) < 100, "the (silent) customer's channel carries no tone"
