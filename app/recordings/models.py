"""A recording per recorded call, and each tenant's recording settings."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects.postgresql import JSONB

from app.calls.models import Call
from app.db import Base, TenantScoped, Timestamped


class RecordingStatus(enum.StrEnum):
    RECORDING = "recording"  # the call is still up (a payment pause may already be logged)
    PENDING = "pending"  # the WAV waits for the conversion job
    READY = "ready"  # the MP3 is stored
    FAILED = "failed"  # the last conversion attempt failed (the job retries)


class Recording(TenantScoped, Timestamped, Base):
    """One file of a recorded call. A call's recording is split into parts (``part``
    1, 2, ...) at each transfer and when a part reaches the tenant's maximum length;
    ``started_at`` is when the part began (``None`` for the first: the answer).

    ``gaps``: card-payment pauses, ``{"start": iso, "end": iso|None, "from_s", "to_s"}``
    (offsets into this part's audio, filled at conversion); ``segments``: the audible
    parts between them, ``{"from_s", "to_s"}``."""

    __tablename__ = "recordings"
    __table_args__ = (
        sa.UniqueConstraint("call_id", "part"),
        sa.Index("ix_recordings_tenant_created", "tenant_id", "created_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    call_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, sa.ForeignKey("calls.id", ondelete="CASCADE"))
    part: so.Mapped[int] = so.mapped_column(default=1, server_default="1")
    started_at: so.Mapped[dt.datetime | None]
    status: so.Mapped[str] = so.mapped_column(sa.String(12), default=RecordingStatus.RECORDING)
    source_path: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    path: so.Mapped[str | None] = so.mapped_column(sa.String(500))  # storage key of the MP3
    format: so.Mapped[str] = so.mapped_column(sa.String(8), default="mp3")
    duration_s: so.Mapped[float | None] = so.mapped_column(sa.Float)
    size_bytes: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    gaps: so.Mapped[list] = so.mapped_column(JSONB, default=list)
    segments: so.Mapped[list] = so.mapped_column(JSONB, default=list)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    converted_at: so.Mapped[dt.datetime | None]

    call: so.Mapped[Call] = so.relationship(lazy="joined", innerjoin=True)


class RecordingSettings(TenantScoped, Base):
    __tablename__ = "recording_settings"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    retention_days: so.Mapped[int] = so.mapped_column(default=365)
    # a recording is cut into a new part when the current one reaches this length
    max_part_minutes: so.Mapped[int] = so.mapped_column(default=60, server_default="60")


# Receivers of other features' signals connect wherever the models load (web, workers, dialer).
from app.recordings import receivers  # noqa: E402,F401
