"""Call detail records: one row per call, every state transition timestamped (D3)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects.postgresql import JSONB

from app.db import Base, TenantScoped, utcnow
from app.inbound import models as _inbound_models  # noqa: F401  (inbound_queues table for the FK)


class CallDirection(enum.StrEnum):
    OUTBOUND = "out"
    INBOUND = "in"
    INTERNAL = "internal"


class Call(TenantScoped, Base):
    """Written when the dialer originates (so a restarted service finds calls in
    flight) and completed when the call is over. ``times`` maps each state of
    ``telephony.dialer.calls.CallState`` to when the call entered it (UTC, ISO)."""

    __tablename__ = "calls"
    __table_args__ = (
        sa.Index("ix_calls_tenant_started", "tenant_id", "started_at"),
        sa.Index("ix_calls_campaign_started", "campaign_id", "started_at"),
        sa.Index("ix_calls_open", "tenant_id", "campaign_id", postgresql_where=sa.text("ended_at IS NULL")),
        sa.Index("ix_calls_lead", "lead_id"),
        sa.Index("ix_calls_queue_started", "queue_id", "started_at", postgresql_where=sa.text("queue_id IS NOT NULL")),
    )

    id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    campaign_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="SET NULL"))
    lead_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger, sa.ForeignKey("leads.id", ondelete="SET NULL"))
    agent_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    direction: so.Mapped[str] = so.mapped_column(sa.String(8), default=CallDirection.OUTBOUND)
    phone_number: so.Mapped[str] = so.mapped_column(sa.String(20))
    caller_id: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    state: so.Mapped[str] = so.mapped_column(sa.String(16))
    cause: so.Mapped[str | None] = so.mapped_column(sa.String(40))
    disposition: so.Mapped[str | None] = so.mapped_column(sa.String(3))
    is_machine: so.Mapped[bool | None]
    abandoned: so.Mapped[bool] = so.mapped_column(default=False)
    started_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    answered_at: so.Mapped[dt.datetime | None]
    bridged_at: so.Mapped[dt.datetime | None]
    ended_at: so.Mapped[dt.datetime | None]
    wrapup_ended_at: so.Mapped[dt.datetime | None]
    ring_s: so.Mapped[float | None] = so.mapped_column(sa.Float)
    talk_s: so.Mapped[float | None] = so.mapped_column(sa.Float)
    wrapup_s: so.Mapped[float | None] = so.mapped_column(sa.Float)
    times: so.Mapped[dict] = so.mapped_column(JSONB, default=dict)
    backend: so.Mapped[str] = so.mapped_column(sa.String(16), default="simulated")
    node: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    data: so.Mapped[dict] = so.mapped_column(JSONB, default=dict)
    # Inbound calls (app.inbound): the queue the caller waited in, the number dialled,
    # and how long the caller waited before an agent answered or the wait ended.
    queue_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("inbound_queues.id", ondelete="SET NULL"))
    did: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    wait_s: so.Mapped[float | None] = so.mapped_column(sa.Float)
    # What the call cost (app.calls.services.price_call, when it ends): seconds billed
    # (answer to hang-up), the carrier and rate it was priced at, and the cost in EUR.
    # No matching rate: carrier, rate and cost stay NULL (unknown, not free).
    billsec: so.Mapped[int | None]
    carrier_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("carriers.id", ondelete="SET NULL"))
    rate_prefix: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    rate_per_minute: so.Mapped[Decimal | None] = so.mapped_column(sa.Numeric(12, 6))
    cost: so.Mapped[Decimal | None] = so.mapped_column(sa.Numeric(12, 6))
