"""Recording split against a real FreeSWITCH (set FREESWITCH_ESL=host:port:password; the
node and this test share FREESWITCH_RECORDINGS_DIR, default /tmp). A call to the
``null`` endpoint is recorded, split twice (once while masked for a card payment),
and each part's WAV written by FreeSWITCH converts to MP3 with the product's code."""

from __future__ import annotations

import pathlib
import time
import uuid

import gevent
import pytest

from app.recordings.audio import wav_to_mp3
from telephony.callcontrol import EventKind, OriginateRequest
from tests.telephony.conftest import EventSink
from tests.telephony.test_freeswitch_integration import ESL, RECORDINGS, _control

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


def test_split_closes_each_part_on_a_real_node(tmp_path: pathlib.Path) -> None:
    sink = EventSink()
    control = _control(sink, "null/{destination}")
    call_id = str(uuid.uuid4())
    base = f"{RECORDINGS.rstrip('/')}/7/{call_id}"
    try:
        control.originate(OriginateRequest(call_id=call_id, tenant_id=7, campaign_id=3, lead_id=11,
                                           destination="0601020304", caller_id="0162000000", ring_timeout_s=20,
                                           record=True))
        assert _wait_paths(sink, EventKind.RECORDING_STARTED, call_id, 1) == [f"{base}.wav"]
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
        info = wav_to_mp3(wav, tmp_path / f"part{number}.mp3")
        durations.append(info.duration_s)
        wav.unlink()
    print(f"\nparts written by FreeSWITCH (s): {durations}")
    assert durations[0] == pytest.approx(1.5, abs=0.6) and durations[1] == pytest.approx(1.5, abs=0.6)
    assert durations[2] == pytest.approx(1.5, abs=0.6)
