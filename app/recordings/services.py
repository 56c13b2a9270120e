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


def update_retention(days: int, default_days: int, max_part_minutes: int | None = None) -> RecordingSettings:
    current = recording_settings(default_days)
    previous = current.retention_days
    current.retention_days = days
    details: dict[str, object] = {"from": previous, "to": days}
    if max_part_minutes is not None and max_part_minutes != current.max_part_minutes:
        details["max_part_minutes"] = {"from": current.max_part_minutes, "to": max_part_minutes}
        current.max_part_minutes = max_part_minutes
    record_event("recordings.retention_changed", target_type="recording_settings", target_id=current.id,
                 details=details)
    Session.flush()
    return current


# -- lifecycle -----------------------------------------------------------------------


def _recording_for_call(call: Call) -> Recording:
    """The part being written (the last one); the first is created on demand."""
    recording = Session.scalar(sa.select(Recording).where(Recording.call_id == call.id)
                               .order_by(Recording.part.desc()).limit(1))
    if recording is None:
        recording = Recording(call_id=call.id, part=1, status=RecordingStatus.RECORDING, gaps=[], segments=[])
        Session.add(recording)
        Session.flush()
    return recording


def register_recording(call_id: uuid.UUID, source_path: str) -> Recording | None:
    """A recorded call has ended: its last part's WAV waits for conversion. Idempotent."""
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


def close_part(call_id: uuid.UUID, source_path: str, at: dt.datetime) -> Recording | None:
    """The media server closed the part being written at ``at`` (a transfer, or the
    maximum length) and carries on in a new file: the closed part waits for conversion
    and the next part starts. A payment pause open across the cut is closed in the one
    and reopened in the other. Returns the closed part (``None``: unknown call)."""
    call = Session.get(Call, call_id)
    if call is None:
        return None
    closed = _recording_for_call(call)
    if closed.status != RecordingStatus.RECORDING:
        log.warning("call %s: part %d is closed already, split ignored", call.id, closed.part)
        return None
    cut = at.isoformat()
    open_gap = _open_gap(closed)
    closed.gaps = [g if g.get("end") else {**g, "end": cut} for g in closed.gaps]
    closed.source_path = source_path
    closed.status = RecordingStatus.PENDING
    carried = [{**open_gap, "start": cut, "end": None}] if open_gap else []
    Session.add(Recording(call_id=call.id, part=closed.part + 1, started_at=at, status=RecordingStatus.RECORDING,
                          gaps=carried, segments=[]))
    record_event("recordings.split", actor=None, target_type="call", target_id=call.id,
                 details={"part": closed.part, "next": closed.part + 1})
    Session.flush()
    return closed


def max_part_seconds(default_days: int) -> float | None:
    """The current tenant's maximum part length (``None``: never split on length)."""
    minutes = recording_settings(default_days).max_part_minutes
    return minutes * 60.0 if minutes else None


def call_parts(call_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Recording]]:
    """Each call's recording parts, in order (contact history, search results)."""
    parts: dict[uuid.UUID, list[Recording]] = {}
    if not call_ids:
        return parts
    stmt = sa.select(Recording).where(Recording.call_id.in_(call_ids)).order_by(Recording.call_id, Recording.part)
    for recording in Session.scalars(stmt):
        parts.setdefault(recording.call_id, []).append(recording)
    return parts


def _offset(origin: dt.datetime, iso: str) -> float:
    return max(0.0, round((dt.datetime.fromisoformat(iso) - origin).total_seconds(), 3))


def _place_gaps(recording: Recording, duration_s: float) -> None:
    call = recording.call
    origin = recording.started_at or call.answered_at or call.started_at
    placed = []
    for gap in recording.gaps:
        start = min(_offset(origin, gap["start"]), duration_s)
        end = min(_offset(origin, gap["end"]), duration_s) if gap.get("end") else duration_s
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


def _latest_part(call_id: uuid.UUID) -> Recording | None:
    return Session.scalar(sa.select(Recording).where(Recording.call_id == call_id)
                          .order_by(Recording.part.desc()).limit(1))


def payment_paused(call_id: uuid.UUID) -> bool:
    """Whether the call's recording is masked right now (a card payment in progress)."""
    recording = _latest_part(call_id)
    return recording is not None and _open_gap(recording) is not None


def resume_recording(call: Call, actor: User | None) -> Recording:
    recording = _latest_part(call.id)
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


@dataclass
class CallRecordings:
    """One search result: a call and its matching recording parts, in order."""

    call: Call
    newest_id: int  # the keyset of the results (newest part first)
    parts: list[Recording]


def _filtered(stmt: sa.Select, filters: RecordingFilters) -> sa.Select:
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
    return stmt


def search_recordings(filters: RecordingFilters, *, before_id: int | None = None, limit: int = 50,
                      batch: int = 500) -> list[CallRecordings]:
    """Calls with recording parts matching ``filters``, the most recently recorded
    first (keyset ``before_id``: a result's ``newest_id``); each with its matching
    parts in order, so a split call reads as one conversation.

    The parts are walked newest first along the primary key in batches (no grouping of
    the whole table): a call is placed by its newest matching part, and a call that has
    a part at or above ``before_id`` was on an earlier page."""
    newest: dict[uuid.UUID, int] = {}
    cursor = before_id
    while len(newest) < limit:
        stmt = (_filtered(sa.select(Recording.id, Recording.call_id).join(Recording.call), filters)
                .order_by(Recording.id.desc()).limit(batch))
        if cursor:
            stmt = stmt.where(Recording.id < cursor)
        rows = Session.execute(stmt).tuples().all()
        candidates = {call_id for _, call_id in rows if call_id not in newest}
        if candidates and before_id:
            shown = _filtered(sa.select(Recording.call_id).join(Recording.call), filters).where(
                Recording.call_id.in_(candidates), Recording.id >= before_id)
            candidates -= set(Session.scalars(shown))
        for recording_id, call_id in rows:
            if call_id in candidates and call_id not in newest and len(newest) < limit:
                newest[call_id] = recording_id
        if len(rows) < batch:
            break
        cursor = rows[-1][0]
    if not newest:
        return []
    parts: dict[uuid.UUID, list[Recording]] = {}
    stmt = _filtered(sa.select(Recording).join(Recording.call), filters).where(Recording.call_id.in_(newest))
    for recording in Session.scalars(stmt.order_by(Recording.part)):
        parts.setdefault(recording.call_id, []).append(recording)
    results = [CallRecordings(rows[0].call, newest[call_id], rows) for call_id, rows in parts.items()]
    return sorted(results, key=lambda r: r.newest_id, reverse=True)


def filter_choices() -> tuple[list[User], list[Campaign]]:
    from app.auth.models import Role

    agents = list(Session.scalars(sa.select(User).where(User.role == Role.AGENT).order_by(User.display_name)))
    campaigns = list(Session.scalars(sa.select(Campaign).order_by(Campaign.name)))
    return agents, campaigns


def record_download(recording: Recording, actor: User | None) -> None:
    record_event("recordings.downloaded", actor=actor, target_type="recording", target_id=recording.id,
                 details={"call_id": str(recording.call_id)})
