"""Recordings fixtures: storage in a temporary directory, WAVs written with ``wave``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import struct
import uuid
import wave
from pathlib import Path

import pytest

from app.calls.models import Call
from app.extensions import Session
from app.recordings.models import Recording, RecordingStatus
from tenants.scoping import tenant_scope


def write_wav(path: Path, seconds: float, rate: int = 8000, channels: int = 2) -> Path:
    """A FreeSWITCH-like stereo recording: customer on the left, agent on the right."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = bytearray()
    for n in range(int(seconds * rate)):
        left = int(9000 * math.sin(2 * math.pi * 440 * n / rate))
        right = int(7000 * math.sin(2 * math.pi * 300 * n / rate))
        frames += struct.pack("<hh", left, right) if channels == 2 else struct.pack("<h", left)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(frames))
    return path


@pytest.fixture()
def storage_root(app, tmp_path, monkeypatch) -> Path:
    from app import runtime

    root = tmp_path / "store"
    config = dataclasses.replace(runtime.current_config(), RECORDINGS_DIR=str(root),
                                 FREESWITCH_RECORDINGS_DIR=str(tmp_path / "spool"))
    monkeypatch.setitem(runtime._current, "config", config)
    # a Dramatiq worker boots its own config from the environment
    monkeypatch.setenv("RECORDINGS_DIR", config.RECORDINGS_DIR)
    monkeypatch.setenv("FREESWITCH_RECORDINGS_DIR", config.FREESWITCH_RECORDINGS_DIR)
    return root


@pytest.fixture()
def spool(storage_root) -> Path:
    from app.runtime import current_config

    return Path(current_config().FREESWITCH_RECORDINGS_DIR)


def make_call(tenant_id: int, *, phone: str = "+33612345678", agent_id: int | None = None,
              campaign_id: int | None = None, started: dt.datetime | None = None, ended: bool = True) -> Call:
    started = started or dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    with tenant_scope(tenant_id):
        call = Call(id=uuid.uuid4(), phone_number=phone, state="dispositioned", agent_id=agent_id,
                    campaign_id=campaign_id, started_at=started, answered_at=started + dt.timedelta(seconds=5),
                    ended_at=started + dt.timedelta(seconds=70) if ended else None, backend="freeswitch",
                    times={}, data={})
        Session.add(call)
        Session.commit()
        Session.expunge(call)
    return call


def make_ready_recording(tenant_id: int, spool: Path, seconds: float = 3.0, **call_fields) -> Recording:
    """A call, its WAV, converted through the service as the job does."""
    from app.recordings import services
    from app.recordings.storage import storage_from_config
    from app.runtime import current_config

    call = make_call(tenant_id, **call_fields)
    wav = write_wav(spool / str(tenant_id) / f"{call.id}.wav", seconds)
    with tenant_scope(tenant_id):
        recording = services.register_recording(call.id, str(wav))
        services.convert_recording(recording.id, storage_from_config(current_config()))
        assert recording.status == RecordingStatus.READY
        Session.commit()
        Session.expunge_all()
    return recording
