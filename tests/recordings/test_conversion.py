"""WAV → MP3 conversion: size, storage layout, failure handling, the worker path."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.core import signals
from app.extensions import Session
from app.recordings import services, tasks
from app.recordings.audio import ConversionError
from app.recordings.models import Recording, RecordingStatus
from app.recordings.storage import storage_from_config
from app.runtime import current_config
from tenants.scoping import tenant_scope
from tests.recordings.conftest import make_call, write_wav


def test_one_minute_stereo_wav_becomes_about_120_kb_of_mono_mp3(world, spool, storage_root):
    call = make_call(world.a.id)
    wav = write_wav(spool / str(world.a.id) / f"{call.id}.wav", 60.0)
    with tenant_scope(world.a.id):
        recording = services.register_recording(call.id, str(wav))
        assert recording.status == RecordingStatus.PENDING
        services.convert_recording(recording.id, storage_from_config(current_config()))
        Session.commit()
        stored = storage_root / recording.path
        size = stored.stat().st_size
        print(f"\nMP3 for a 60 s stereo WAV (8 kHz): {size} bytes = {size / 1000:.1f} kB per minute")
        assert 100_000 <= size <= 140_000
        assert recording.size_bytes == size
        assert recording.duration_s == pytest.approx(60.0)
        assert recording.status == RecordingStatus.READY
        assert recording.path.startswith(f"{world.a.id}/2026/")
        assert stored.read_bytes()[:3] in (b"ID3", b"\xff\xfb"[:3]) or stored.read_bytes()[0] == 0xFF
        assert not wav.exists(), "the WAV is deleted once the MP3 is stored"
        assert recording.segments == [{"from_s": 0.0, "to_s": 60.0}]
        # idempotent: a second run (a redelivered job) changes nothing
        again = services.convert_recording(recording.id, storage_from_config(current_config()))
        assert again.path == recording.path and again.attempts == 1


def test_sixteen_khz_wav_is_also_converted_at_telephone_bandwidth(world, spool, storage_root):
    call = make_call(world.a.id)
    wav = write_wav(spool / f"{call.id}.wav", 10.0, rate=16000)
    with tenant_scope(world.a.id):
        recording = services.register_recording(call.id, str(wav))
        services.convert_recording(recording.id, storage_from_config(current_config()))
        assert recording.duration_s == pytest.approx(10.0)
        assert 15_000 <= recording.size_bytes <= 25_000


def test_broken_wav_fails_the_job_marks_the_recording_and_leaves_no_file(world, spool, storage_root):
    call = make_call(world.a.id)
    wav = spool / f"{call.id}.wav"
    write_wav(wav, 2.0)
    data = wav.read_bytes()
    wav.write_bytes(b"RIFX" + data[4:60])  # not a RIFF file any more, and truncated
    with tenant_scope(world.a.id):
        recording_id = services.register_recording(call.id, str(wav)).id
        Session.commit()
        with pytest.raises(ConversionError, match=f"{call.id}.wav"):
            tasks.convert_recording(recording_id)
        Session.rollback()  # what the job middleware does after a failure
        recording = Session.get(Recording, recording_id, populate_existing=True)
        assert recording.status == RecordingStatus.FAILED
        assert recording.attempts == 1 and "wav" in recording.error.lower()
        events = list(Session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "recordings.conversion_failed")))
        assert len(events) == 1 and events[0].target_id == str(recording_id)
    assert not any(p.is_file() for p in storage_root.rglob("*")), "no half MP3 left in the storage"
    assert wav.exists(), "the WAV is kept for the retries"
    assert tasks._retry_when(0, ConversionError("x")) and not tasks._retry_when(tasks.CONVERSION_RETRIES, ConversionError("x"))
    assert tasks.convert_recording.options["retry_when"] is tasks._retry_when

    # the file is put right (or was still being written): the retry succeeds
    write_wav(wav, 2.0)
    with tenant_scope(world.a.id):
        tasks.convert_recording(recording_id)
        Session.commit()
        recording = Session.get(Recording, recording_id, populate_existing=True)
        assert recording.status == RecordingStatus.READY and recording.attempts == 2 and recording.error is None


def test_missing_wav_is_a_conversion_error(world, spool, storage_root):
    call = make_call(world.a.id)
    with tenant_scope(world.a.id):
        recording = services.register_recording(call.id, str(spool / "nowhere.wav"))
        with pytest.raises(ConversionError, match="WAV not found"):
            services.convert_recording(recording.id, storage_from_config(current_config()))
        assert recording.status == RecordingStatus.FAILED


def test_call_ended_signal_queues_the_conversion_in_the_calls_tenant(world, spool, storage_root, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.convert_recording, "send_with_options", lambda **kw: queued.append(kw))
    call = make_call(world.a.id)
    wav = write_wav(spool / str(world.a.id) / f"{call.id}.wav", 5.0)
    other = make_call(world.a.id)
    with tenant_scope(world.a.id):
        signals.call_ended.send("dialer", tenant_id=world.a.id,
                                payload={"id": str(call.id)}, recording_path=str(wav))
        # a call without a recording registers nothing
        signals.call_ended.send("dialer", tenant_id=world.a.id, payload={"id": str(other.id)})
        Session.commit()
    (message,) = queued
    assert message["tenant_id"] == world.a.id
    # what the worker does with the message: the actor in the message's tenant
    with tenant_scope(message["tenant_id"]):
        tasks.convert_recording(*message["args"])
        Session.commit()
        recordings = list(Session.scalars(sa.select(Recording)))
        assert [(r.call_id, r.status) for r in recordings] == [(call.id, RecordingStatus.READY)]
        assert (storage_root / recordings[0].path).is_file()
    assert not wav.exists()


def test_conversion_job_waits_for_the_registering_commit(world):
    with tenant_scope(world.a.id), pytest.raises(tasks.RecordingNotReadyError):
        tasks.convert_recording(424242)
    assert tasks._retry_when(3, tasks.RecordingNotReadyError("x"))


def test_retention_purges_old_recordings_per_tenant_setting(world, spool, storage_root):
    from tests.recordings.conftest import make_ready_recording

    config = current_config()
    old_a = make_ready_recording(world.a.id, spool, 1.0)
    new_a = make_ready_recording(world.a.id, spool, 1.0)
    old_b = make_ready_recording(world.b.id, spool, 1.0)
    now = dt.datetime.now(dt.UTC)
    with tenant_scope(world.a.id):
        services.update_retention(30, config.RECORDINGS_RETENTION_DAYS)
        Session.execute(sa.update(Recording).where(Recording.id == old_a.id)
                        .values(created_at=now - dt.timedelta(days=31)))
        Session.commit()
    with tenant_scope(world.b.id):  # B keeps the default (365 days)
        Session.execute(sa.update(Recording).where(Recording.id == old_b.id)
                        .values(created_at=now - dt.timedelta(days=31)))
        Session.commit()
    tasks.purge_recordings()
    assert not (storage_root / old_a.path).exists()
    assert (storage_root / new_a.path).exists() and (storage_root / old_b.path).exists()
    with tenant_scope(world.a.id):
        assert [r.id for r in Session.scalars(sa.select(Recording))] == [new_a.id]
    with tenant_scope(world.b.id):
        assert [r.id for r in Session.scalars(sa.select(Recording))] == [old_b.id]


def test_erasing_a_person_deletes_their_recordings(world, spool, storage_root):
    from app.leads.privacy import person_erased
    from tests.recordings.conftest import make_ready_recording

    theirs = make_ready_recording(world.a.id, spool, 1.0, phone="+33611111111")
    other = make_ready_recording(world.a.id, spool, 1.0, phone="+33622222222")
    with tenant_scope(world.a.id):
        person_erased.send(world.a.id, lead_ids=[], phones=["+33611111111"])
        Session.commit()
        assert [r.id for r in Session.scalars(sa.select(Recording))] == [other.id]
    assert not (storage_root / theirs.path).exists()
    assert uuid.UUID(str(other.call_id))
