"""Recording rules: registration when a recorded call ends, conversion, payment
pauses, search, retention. Functions flush and never commit (the edges commit)."""

from __future__ import annotations

import datetime as dt
import logging
import pathlib
import tempfile
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from app.audit.services import record_event
from app.auth.models import User
from app.calls.models import Call
from app.campaigns.models import Campaign
from app.db import utcnow
from app.extensions import Session
from app.recordings import control
from app.recordings.audio import ConversionError, wav_to_mp3
from app.recordings.models import Recording, RecordingSettings, RecordingStatus
from app.recordings.storage import RecordingStorage, recording_key

log = logging.getLogger("carillon.recordings")


class RecordingNotFound(LookupError):
    pass


class PauseRefused(ValueError):
    """A pause while already paused, or a resume with no pause open."""


# -- settings ------------------------------------------------------------------------


def recording_settings(default_days: int) -> RecordingSettings:
    current = Session.scalar(sa.select(RecordingSettings))
    if current is None:
        current = RecordingSettings(retention_days=default_days)
        Session.add(current)
        Session.flush()
    return current


def update_retention(days: int, default_days: int) -> RecordingSettings:
    current = recording_settings(default_days)
    previous = current.retention_days
    current.retention_days = days
    record_event("recordings.retention_changed", target_type="recording_settings", target_id=current.id,
                 details={"from": previous, "to": days})
    Session.flush()
    return current


# -- lifecycle -----------------------------------------------------------------------


def _recording_for_call(call: Call) -> Recording:
    recording = Session.scalar(sa.select(Recording).where(Recording.call_id == call.id))
    if recording is None:
        recording = Recording(call_id=call.id, status=RecordingStatus.RECORDING, gaps=[], segments=[])
        Session.add(recording)
        Session.flush()
    return recording


def register_recording(call_id: uuid.UUID, source_path: str) -> Recording | None:
    """A recorded call has ended: its WAV waits for conversion. Idempotent."""
    call = Session.get(Call, call_id)
    if call is None:
        return None
    recording = _recording_for_call(call)
    if recording.status in (RecordingStatus.RECORDING, RecordingStatus.FAILED):
        recording.source_path = source_path
        recording.status = RecordingStatus.PENDING
        now = (call.ended_at or utcnow()).isoformat()
        # a call that ended during a payment pause closes the pause
        recording.gaps = [g if g.get("end") else {**g, "end": now} for g in recording.gaps]
    Session.flush()
    return recording


def _offset(call: Call, iso: str) -> float:
    origin = call.answered_at or call.started_at
    return max(0.0, round((dt.datetime.fromisoformat(iso) - origin).total_seconds(), 3))


def _place_gaps(recording: Recording, duration_s: float) -> None:
    call = recording.call
    placed = []
    for gap in recording.gaps:
        start = min(_offset(call, gap["start"]), duration_s)
        end = min(_offset(call, gap["end"]), duration_s) if gap.get("end") else duration_s
        placed.append({**gap, "from_s": start, "to_s": max(start, end)})
    placed.sort(key=lambda g: g["from_s"])
    segments, cursor = [], 0.0
    for gap in placed:
        if gap["from_s"] > cursor:
            segments.append({"from_s": cursor, "to_s": gap["from_s"]})
        cursor = max(cursor, gap["to_s"])
    if duration_s > cursor:
        segments.append({"from_s": cursor, "to_s": duration_s})
    recording.gaps = placed
    recording.segments = segments


def convert_recording(recording_id: int, storage: RecordingStorage) -> Recording | None:
    """Convert the WAV to MP3, store it, delete the WAV. Idempotent: a recording
    already converted is left alone. On failure the recording is marked failed,
    the failure is logged and audited (the caller commits that), and
    ``ConversionError`` is raised so that the job is retried."""
    recording = Session.get(Recording, recording_id, populate_existing=True)
    if recording is None or recording.status == RecordingStatus.READY:
        return recording
    source = pathlib.Path(recording.source_path or "")
    started = recording.created_at or utcnow()
    key = recording_key(recording.tenant_id, recording.id, started.year, started.month)
    recording.attempts += 1
    with tempfile.TemporaryDirectory(prefix="carillon-rec-") as workdir:
        target = pathlib.Path(workdir) / "out.mp3"
        try:
            if not recording.source_path or not source.is_file():
                raise ConversionError(f"WAV not found: {recording.source_path}")
            info = wav_to_mp3(source, target)
            size = storage.put(key, target)
        except (ConversionError, OSError) as error:
            storage.delete(key)
            message = str(error)
            recording.status = RecordingStatus.FAILED
            recording.error = message[:2000]
            log.error("recording %s (call %s) failed to convert, attempt %d: %s",
                      recording.id, recording.call_id, recording.attempts, message)
            record_event("recordings.conversion_failed", target_type="recording", target_id=recording.id,
                         details={"call_id": str(recording.call_id), "attempt": recording.attempts,
                                  "error": message[:300]})
            Session.flush()
            raise ConversionError(message) from error
    recording.path = key
    recording.size_bytes = size
    recording.duration_s = info.duration_s
    recording.format = "mp3"
    recording.status = RecordingStatus.READY
    recording.error = None
    recording.converted_at = utcnow()
    _place_gaps(recording, info.duration_s)
    Session.flush()
    source.unlink(missing_ok=True)
    return recording


def delete_recording(recording: Recording, storage: RecordingStorage) -> None:
    if recording.path:
        storage.delete(recording.path)
    if recording.source_path:
        pathlib.Path(recording.source_path).unlink(missing_ok=True)
    Session.delete(recording)
    Session.flush()


def purge_expired(storage: RecordingStorage, default_days: int, now: dt.datetime | None = None) -> int:
    """Delete the current tenant's recordings older than its retention."""
    days = recording_settings(default_days).retention_days
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    expired = list(Session.scalars(sa.select(Recording).where(Recording.created_at < cutoff)))
    for recording in expired:
        delete_recording(recording, storage)
    if expired:
        record_event("recordings.purged", actor=None, target_type="recording",
                     details={"count": len(expired), "retention_days": days})
    return len(expired)


def erase_for_phones(phones: list[str], storage: RecordingStorage) -> int:
    """L8: a person erased takes their calls' recordings with them."""
    if not phones:
        return 0
    doomed = list(Session.scalars(sa.select(Recording).join(Recording.call).where(Call.phone_number.in_(phones))))
    for recording in doomed:
        delete_recording(recording, storage)
    return len(doomed)


# -- card-payment pauses ---------------------------------------------------------------


def _open_gap(recording: Recording) -> dict | None:
    return next((g for g in recording.gaps if g.get("end") is None), None)


def pause_recording(call: Call, actor: User | None) -> Recording:
    """Mask the recording while the customer gives card details: the media server
    writes silence, and the gap is kept so that a listener sees it."""
    if call.ended_at is not None:
        raise PauseRefused("the call is over")
    recording = _recording_for_call(call)
    if recording.status != RecordingStatus.RECORDING:
        raise PauseRefused("the recording is closed")
    if _open_gap(recording) is not None:
        raise PauseRefused("the recording is already paused")
    recording.gaps = [*recording.gaps, {"start": utcnow().isoformat(), "end": None, "reason": "payment",
                                        "by": getattr(actor, "id", None)}]
    record_event("recordings.paused", actor=actor, target_type="call", target_id=call.id)
    Session.flush()
    control.send(call.campaign_id, str(call.id), control.PAUSE)
    return recording


def resume_recording(call: Call, actor: User | None) -> Recording:
    recording = Session.scalar(sa.select(Recording).where(Recording.call_id == call.id))
    gap = _open_gap(recording) if recording is not None else None
    if recording is None or gap is None:
        raise PauseRefused("the recording is not paused")
    gaps = [dict(g) for g in recording.gaps]
    next(g for g in gaps if g.get("end") is None)["end"] = utcnow().isoformat()
    recording.gaps = gaps
    record_event("recordings.resumed", actor=actor, target_type="call", target_id=call.id)
    Session.flush()
    if call.ended_at is None:
        control.send(call.campaign_id, str(call.id), control.RESUME)
    return recording


# -- search ----------------------------------------------------------------------------


@dataclass
class RecordingFilters:
    day_from: dt.date | None = None
    day_to: dt.date | None = None
    agent_id: int | None = None
    campaign_id: int | None = None
    phone: str = ""
    status: str = ""
    min_duration_s: int | None = None
    max_duration_s: int | None = None


def search_recordings(filters: RecordingFilters, *, before_id: int | None = None, limit: int = 50) -> list[Recording]:
    stmt = sa.select(Recording).join(Recording.call).order_by(Recording.id.desc()).limit(limit)
    if filters.day_from:
        stmt = stmt.where(Call.started_at >= dt.datetime.combine(filters.day_from, dt.time(), dt.UTC))
    if filters.day_to:
        stmt = stmt.where(Call.started_at < dt.datetime.combine(filters.day_to + dt.timedelta(days=1), dt.time(),
                                                                dt.UTC))
    if filters.agent_id:
        stmt = stmt.where(Call.agent_id == filters.agent_id)
    if filters.campaign_id:
        stmt = stmt.where(Call.campaign_id == filters.campaign_id)
    if filters.phone:
        digits = "".join(ch for ch in filters.phone if ch.isdigit() or ch == "+")
        stmt = stmt.where(Call.phone_number.contains(digits.lstrip("0").lstrip("+") or digits))
    if filters.status:
        stmt = stmt.where(Recording.status == filters.status)
    if filters.min_duration_s is not None:
        stmt = stmt.where(Recording.duration_s >= filters.min_duration_s)
    if filters.max_duration_s is not None:
        stmt = stmt.where(Recording.duration_s <= filters.max_duration_s)
    if before_id:
        stmt = stmt.where(Recording.id < before_id)
    return list(Session.scalars(stmt))


def filter_choices() -> tuple[list[User], list[Campaign]]:
    from app.auth.models import Role

    agents = list(Session.scalars(sa.select(User).where(User.role == Role.AGENT).order_by(User.display_name)))
    campaigns = list(Session.scalars(sa.select(Campaign).order_by(Campaign.name)))
    return agents, campaigns


def record_download(recording: Recording, actor: User | None) -> None:
    record_event("recordings.downloaded", actor=actor, target_type="recording", target_id=recording.id,
                 details={"call_id": str(recording.call_id)})
