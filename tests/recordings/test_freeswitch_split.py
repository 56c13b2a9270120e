"""Recording split against a real FreeSWITCH (set FREESWITCH_ESL=host:port:password; the
node and this test share FREESWITCH_RECORDINGS_DIR, default /tmp). A call to the
``null`` endpoint is recorded, split twice (once while masked for a card payment),
and each part's WAV written by FreeSWITCH converts to MP3 with the product's code."""

from __future__ import annotations

import pathlib
import time
import uuid
import wave

import gevent
import pytest

from app.recordings.audio import wav_to_mp3
from telephony.callcontrol import EventKind, OriginateRequest
from tests.telephony.conftest import EventSink
from tests.telephony.test_freeswitch_integration import ESL, RECORDINGS, SIPP_PROFILE, SIPP_UAS, _control

pytestmark = [
    pytest.mark.freeswitch,
    pytest.mark.skipif(not ESL, reason="FREESWITCH_ESL=host:port:password is not set: no FreeSWITCH to test against"),
]


def _paths(sink: EventSink, kind: EventKind, call_id: str) -> list[str]:
    return [event.data["path"] for event in sink.of(kind, call_id)]


def _wait_paths(sink: EventSink, kind: EventKind, call_id: str, count: int, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(_paths(sink, kind, call_id)) < count:
        assert time.monotonic() < deadline, f"{count} × {kind} expected; got {sink.events}"
        gevent.sleep(0.05)
    return _paths(sink, kind, call_id)


@pytest.mark.parametrize("leg", ["null", "sipp"])
def test_split_closes_each_part_on_a_real_node(tmp_path: pathlib.Path, leg: str) -> None:
    """``null``: no RTP at all; ``sipp`` (FREESWITCH_SIPP_UAS): a SIP call to a SIPp UAS
    echoing RTP, so the parts carry real media at 8 kHz."""
    if leg == "sipp" and not SIPP_UAS:
        pytest.skip("FREESWITCH_SIPP_UAS=host:port is not set: no SIPp UAS to call")
    sink = EventSink()
    template = "null/{destination}" if leg == "null" else f"sofia/{SIPP_PROFILE}/{{destination}}@{SIPP_UAS}"
    control = _control(sink, template)
    call_id = str(uuid.uuid4())
    base = f"{RECORDINGS.rstrip('/')}/7/{call_id}"
    try:
        control.originate(OriginateRequest(call_id=call_id, tenant_id=7, campaign_id=3, lead_id=11,
                                           destination="0601020304", caller_id="0162000000", ring_timeout_s=20,
                                           record=True))
        assert _wait_paths(sink, EventKind.RECORDING_STARTED, call_id, 1, timeout=20) == [f"{base}.wav"]
        # into a conference, as an answered call joins its agent's: media flows both ways
        # (a parked SIP leg exchanges no RTP, and FreeSWITCH discards a part with no frame
        # as "empty-file")
        reply = control.clients["fs-it"].api(f"uuid_transfer {call_id} conference:split-{call_id[:8]}@default inline")
        assert reply.startswith("+OK"), reply
        gevent.sleep(1.5)
        assert control.split_recording(call_id, 2) == (f"{base}.wav", f"{base}-p2.wav")
        assert _wait_paths(sink, EventKind.RECORDING_STOPPED, call_id, 1) == [f"{base}.wav"]
        assert _wait_paths(sink, EventKind.RECORDING_STARTED, call_id, 2)[1] == f"{base}-p2.wav"
        gevent.sleep(1.5)
        control.pause_recording(call_id)  # a card payment across the next cut
        control.split_recording(call_id, 3)
        assert _wait_paths(sink, EventKind.RECORDING_STARTED, call_id, 3)[2] == f"{base}-p3.wav"
        gevent.sleep(1.0)
        control.resume_recording(call_id)  # unmask reaches part 3's file
        gevent.sleep(0.5)
        control.hangup(call_id)
        stopped = _wait_paths(sink, EventKind.RECORDING_STOPPED, call_id, 3)
        assert stopped == [f"{base}.wav", f"{base}-p2.wav", f"{base}-p3.wav"]
        sink.wait_for(EventKind.HANGUP, call_id, timeout=10)
    finally:
        for live in list(control.tracker.calls):
            control.hangup(live)
        with gevent.Timeout(10):
            control.stop()
    durations = []
    for number, path in enumerate(stopped, start=1):
        wav = pathlib.Path(path)
        assert wav.is_file(), f"FreeSWITCH wrote no {wav}"
        with wave.open(str(wav), "rb") as written:
            assert written.getnchannels() == 2, f"part {number} is not stereo (RECORD_STEREO)"
        info = wav_to_mp3(wav, tmp_path / f"part{number}.mp3")
        assert info.channels == 2
        durations.append(info.duration_s)
        wav.unlink()
    print(f"\n{leg}: parts written by FreeSWITCH (s): {durations}")
    # part 1 also holds the moments before the transfer; the others the 1.5 s between cuts
    assert durations[0] >= 1.2
    assert durations[1] == pytest.approx(1.5, abs=0.4) and durations[2] == pytest.approx(1.5, abs=0.4)


def test_dialer_splits_a_long_call_on_a_real_node(world) -> None:
    """The dialer service on the real node: a recorded call to ``null/`` is answered and
    sent to the agent's conference; with a 2 s maximum the runner splits it; after the
    hangup both parts are rows whose WAVs FreeSWITCH wrote."""
    import sqlalchemy as sa

    from app.extensions import Session
    from app.realtime import bus
    from app.recordings.models import Recording
    from telephony.dialer.backends import FreeSwitchBackends
    from telephony.dialer.service import DialerService
    from telephony.freeswitch.nodes import FreeSwitchNode
    from tenants.scoping import tenant_scope
    from tests.dialer_db.conftest import OPEN, make_campaign
    from tests.dialer_fs.test_freeswitch_dialer import FakeClock, _call, _clear_bus, _run_until, _stop

    _clear_bus()
    tenant_id, agent = world.a.id, world.a.users["agent"]
    campaign = make_campaign(tenant_id, "Longs appels réels", leads=1, recording=True)
    esl = FreeSwitchNode.from_esl_setting(ESL, name="fs-it")
    node = FreeSwitchNode(name=esl.name, host=esl.host, port=esl.port, password=esl.password,
                          dial_template="null/{destination}")
    backends = FreeSwitchBackends([node], connect_wait_s=5, backoff_initial=0.2, backoff_max=1.0,
                                  recordings_dir=RECORDINGS)
    call_id = str(uuid.uuid4())
    ids = iter([call_id])
    service = DialerService(clock=FakeClock(), tenant_ids=[tenant_id], epoch_wall=OPEN.timestamp(),
                            discover_every_s=3600, backends=backends, new_call_id=lambda: next(ids))
    base = f"{RECORDINGS.rstrip('/')}/{tenant_id}/{call_id}"
    try:
        service.discover()
        bus.mark_alive(tenant_id, agent.id)
        bus.send_command(bus.AgentCommand("login", tenant_id, campaign.id, agent.id))
        runner = service.held[campaign.id].runner
        _run_until(service, lambda: call_id in runner.backend.parts._live, tenant_id, agent.id)  # answered
        runner.backend.parts._load_limit = lambda: 2.0  # the tenant's setting is in minutes: 2 s here
        runner.backend.parts._limit_read_at = None
        _run_until(service, lambda: runner.backend.parts.part(call_id) == 2, tenant_id, agent.id)
        runner.backend.parts._load_limit = lambda: None
        runner.backend.parts._limit_read_at = None
        gevent.sleep(1.0)
        backends.control.hangup(call_id)
        # the customer was in the agent's conference: the call closes with the disposition
        _run_until(service, lambda: call_id not in backends.control.tracker.calls, tenant_id, agent.id)
        bus.send_command(bus.AgentCommand("disposition", tenant_id, campaign.id, agent.id, status="VT",
                                          call_id=call_id))
        _run_until(service, lambda: getattr(_call(tenant_id, call_id), "ended_at", None) is not None,
                   tenant_id, agent.id)
    finally:
        _stop(service)
    with tenant_scope(tenant_id):
        rows = Session.scalars(sa.select(Recording).where(Recording.call_id == uuid.UUID(call_id))
                               .order_by(Recording.part)).all()
        parts = [(r.part, r.status, r.source_path) for r in rows]
        Session.rollback()
    assert parts == [(1, "pending", f"{base}.wav"), (2, "pending", f"{base}-p2.wav")]
    for _, _, path in parts:
        wav = pathlib.Path(path)
        assert wav.is_file() and wav.stat().st_size > 44, f"FreeSWITCH wrote no {wav}"
        with wave.open(str(wav), "rb") as written:
            assert written.getnchannels() == 2, f"{wav.name} is not stereo (RECORD_STEREO)"
        wav.unlink()
