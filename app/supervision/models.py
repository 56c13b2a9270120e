"""Agent state history: one row per state an agent was in (ready, ringing, in call,
wrap-up, paused with its code), recorded from the live bus for the pause report and
the agents' time breakdown."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.db import Base, TenantScoped


class AgentStateSpan(TenantScoped, Base):
    __tablename__ = "agent_state_spans"
    __table_args__ = (
        sa.Index("ix_agent_state_spans_tenant_started", "tenant_id", "started_at"),
        sa.Index("ix_agent_state_spans_open", "tenant_id", "agent_id", postgresql_where=sa.text("ended_at IS NULL")),
    )

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    agent_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    campaign_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="SET NULL"))
    state: so.Mapped[str] = so.mapped_column(sa.String(16))
    pause_code: so.Mapped[str | None] = so.mapped_column(sa.String(12))
    started_at: so.Mapped[dt.datetime]
    ended_at: so.Mapped[dt.datetime | None]


from app.supervision import receivers  # noqa: E402,F401  (connects the signal receivers)
