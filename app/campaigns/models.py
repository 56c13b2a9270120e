"""Campaigns (C1-C6): settings, statuses, pause codes, scripts, callbacks, and the
compliance tables (dial attempts and logged blocks, R2/R6).

Attribute names follow what ``app.compliance`` reads from a campaign
(``prospecting``, ``dial_mode``, ``calling_hours``, ``attempt_limit``,
``min_attempt_spacing``, ``refusal_delay``, ``local_presence``, ``caller_id``,
``dids``), so a ``Campaign`` is passed to ``may_dial`` as it is.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB

from app.db import Base, TenantScoped, Timestamped, utcnow
from telephony.routing import models as _routing_models  # noqa: F401  (trunks table for the FK)


class DialMode(enum.StrEnum):
    """C2. Values match ``telephony.dialer.pacing.DialMode``; RECEPTION is shown as
    RÉCEPTION, the guide's spelling."""

    MANUEL = "MANUEL"
    PREVIEW = "PREVIEW"
    PROGRESSIF = "PROGRESSIF"
    TURBO = "TURBO"
    AUTOMATIQUE1 = "AUTOMATIQUE1"
    AUTOMATIQUE2 = "AUTOMATIQUE2"
    AUTOMATIQUE3 = "AUTOMATIQUE3"
    RECEPTION = "RECEPTION"

    @property
    def label(self) -> str:
        return "RÉCEPTION" if self is DialMode.RECEPTION else self.value


class DialOrder(enum.StrEnum):
    LIST_ORDER = "list_order"
    RANDOM = "random"
    OLDEST_ATTEMPT = "oldest_attempt"
    NEWEST_LEAD = "newest_lead"
    POSTAL_CODE = "postal_code"


class PauseMode(enum.StrEnum):
    DISABLED = "disabled"
    OPTIONAL = "optional"
    MANDATORY = "mandatory"


class StatusCategory(enum.StrEnum):
    COMMERCIAL = "commercial"
    ADMINISTRATIVE = "administrative"
    TECHNICAL = "technical"
    SYSTEM = "system"


STATUS_FLAGS = ("sale", "answering_machine", "callback", "not_interested", "final", "not_treatable")


class Campaign(TenantScoped, Timestamped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name"),
        sa.CheckConstraint("dial_speed BETWEEN 0 AND 10", name="dial_speed"),
        sa.CheckConstraint("abandon_target > 0 AND abandon_target <= 0.03", name="abandon_target"),
        sa.CheckConstraint("attempt_limit IS NULL OR attempt_limit >= 0", name="attempt_limit"),
        sa.CheckConstraint("wrapup_s BETWEEN 5 AND 900", name="wrapup_s"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    active: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
    # R3: a prospecting campaign dials only leads with a recorded consent.
    prospecting: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
    # The calls are about the leads' existing contract (loi 2025-594 opt-in exemption).
    existing_contract: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    archived_at: so.Mapped[dt.datetime | None]
    dial_mode: so.Mapped[str] = so.mapped_column(sa.String(16), default=DialMode.PROGRESSIF,
                                                 server_default=DialMode.PROGRESSIF.value)
    trunk_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("trunks.id", ondelete="SET NULL"))
    caller_id: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    local_presence: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    dids: so.Mapped[list[str]] = so.mapped_column(postgresql.ARRAY(sa.String(20)), default=list,
                                                  server_default="{}")
    recording: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    dial_order: so.Mapped[str] = so.mapped_column(sa.String(16), default=DialOrder.LIST_ORDER,
                                                  server_default=DialOrder.LIST_ORDER.value)
    attempt_limit: so.Mapped[int | None] = so.mapped_column(sa.SmallInteger, default=4, server_default="4")
    min_attempt_spacing: so.Mapped[dt.timedelta | None] = so.mapped_column(sa.Interval)
    refusal_delay: so.Mapped[dt.timedelta | None] = so.mapped_column(sa.Interval)
    # {"0": [["10:00", "13:00"], ...]} (weekday 0 = Monday, lead's local time); NULL
    # means the legal window only. Read through ``calling_hours``.
    hours_data: so.Mapped[dict | None] = so.mapped_column("calling_hours", JSONB)
    amd: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    voicemail_audio: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    dial_speed: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=3, server_default="3")
    # Fraction of answered calls (R4): 0.03 is the legal ceiling and the default.
    abandon_target: so.Mapped[float] = so.mapped_column(sa.Float, default=0.03, server_default="0.03")
    script_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("scripts.id", ondelete="SET NULL"))
    pause_mode: so.Mapped[str] = so.mapped_column(sa.String(10), default=PauseMode.OPTIONAL,
                                                  server_default=PauseMode.OPTIONAL.value)
    # Wrap-up (A5): its length, and the status the dialer sets when it runs out (None:
    # the agent's next call waits for their disposition however long it takes).
    wrapup_s: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=30, server_default="30")
    wrapup_status: so.Mapped[str | None] = so.mapped_column(sa.String(3))

    statuses: so.Mapped[list[CampaignStatus]] = so.relationship(
        back_populates="campaign", order_by="CampaignStatus.position", cascade="all, delete-orphan",
        passive_deletes=True)
    pause_codes: so.Mapped[list[PauseCode]] = so.relationship(
        back_populates="campaign", order_by="PauseCode.position", cascade="all, delete-orphan",
        passive_deletes=True)
    script: so.Mapped[Script | None] = so.relationship()

    @property
    def calling_hours(self) -> Mapping[int, Sequence[tuple[dt.time, dt.time]]] | None:
        if self.hours_data is None:
            return None
        return {
            int(day): [(dt.time.fromisoformat(start), dt.time.fromisoformat(end)) for start, end in ranges]
            for day, ranges in self.hours_data.items()
        }

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    @property
    def dial_mode_label(self) -> str:
        return DialMode(self.dial_mode).label


class CampaignAgent(TenantScoped, Base):
    __tablename__ = "campaign_agents"

    campaign_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
                                                   primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class CampaignGroup(TenantScoped, Base):
    __tablename__ = "campaign_groups"

    campaign_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
                                                   primary_key=True)
    group_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user_groups.id", ondelete="CASCADE"),
                                                primary_key=True)


class CampaignStatus(TenantScoped, Base):
    """C3: a disposition of one campaign. System statuses are the dialler's outcomes."""

    __tablename__ = "campaign_statuses"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "code"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    campaign_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(3))
    name: so.Mapped[str] = so.mapped_column(sa.String(80))
    category: so.Mapped[str] = so.mapped_column(sa.String(16), default=StatusCategory.COMMERCIAL)
    sale: so.Mapped[bool] = so.mapped_column(default=False)
    answering_machine: so.Mapped[bool] = so.mapped_column(default=False)
    callback: so.Mapped[bool] = so.mapped_column(default=False)
    not_interested: so.Mapped[bool] = so.mapped_column(default=False)
    final: so.Mapped[bool] = so.mapped_column(default=False)
    not_treatable: so.Mapped[bool] = so.mapped_column(default=False)
    system: so.Mapped[bool] = so.mapped_column(default=False)
    position: so.Mapped[int] = so.mapped_column(default=0)

    campaign: so.Mapped[Campaign] = so.relationship(back_populates="statuses")


class PauseCode(TenantScoped, Base):
    """C4: a reason an agent gives for a pause; pause time is reported per code."""

    __tablename__ = "pause_codes"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "code"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    campaign_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(12))
    name: so.Mapped[str] = so.mapped_column(sa.String(80))
    position: so.Mapped[int] = so.mapped_column(default=0)

    campaign: so.Mapped[Campaign] = so.relationship(back_populates="pause_codes")


class Script(TenantScoped, Timestamped, Base):
    """C5: an argumentaire; its content lives in versions, the last published one is used."""

    __tablename__ = "scripts"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))

    versions: so.Mapped[list[ScriptVersion]] = so.relationship(
        back_populates="script", order_by="ScriptVersion.number", cascade="all, delete-orphan",
        passive_deletes=True)


class ScriptVersion(TenantScoped, Timestamped, Base):
    """One version of a script's pages and blocks. Once ``published_at`` is set the
    row never changes: calls refer to it through ``script_answers``."""

    __tablename__ = "script_versions"
    __table_args__ = (sa.UniqueConstraint("script_id", "number"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    script_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("scripts.id", ondelete="CASCADE"), index=True)
    number: so.Mapped[int] = so.mapped_column(default=1)
    content: so.Mapped[dict] = so.mapped_column(JSONB, default=dict)
    published_at: so.Mapped[dt.datetime | None]

    script: so.Mapped[Script] = so.relationship(back_populates="versions")

    @property
    def published(self) -> bool:
        return self.published_at is not None


class ScriptAnswer(TenantScoped, Base):
    """Answers given during one call. The calls table comes later: ``call_id`` is its
    future key, kept without a foreign key until then."""

    __tablename__ = "script_answers"

    call_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.Uuid, primary_key=True)
    script_version_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("script_versions.id", ondelete="RESTRICT"), index=True)
    answers: so.Mapped[dict] = so.mapped_column(JSONB, default=dict)
    saved_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)

    version: so.Mapped[ScriptVersion] = so.relationship()


class CallbackState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"


class Callback(TenantScoped, Timestamped, Base):
    """C6: call this lead again at ``due_at``; personal when ``agent_id`` is set, else
    anyone's. ``origin_campaign_id`` differs from ``campaign_id`` for a cross-campaign
    follow-up."""

    __tablename__ = "callbacks"
    __table_args__ = (
        sa.Index("ix_callbacks_due", "campaign_id", "state", "due_at"),
        sa.Index("ix_callbacks_agent_due", "agent_id", "state", "due_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    campaign_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    origin_campaign_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("campaigns.id", ondelete="SET NULL"))
    lead_id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.ForeignKey("leads.id", ondelete="CASCADE"),
                                               index=True)
    agent_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    due_at: so.Mapped[dt.datetime]
    # The lead's zone when scheduled: the agent picked a wall time there.
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default="Europe/Paris")
    priority: so.Mapped[int] = so.mapped_column(sa.SmallInteger, default=0)
    note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    state: so.Mapped[str] = so.mapped_column(sa.String(10), default=CallbackState.PENDING)
    status_code: so.Mapped[str | None] = so.mapped_column(sa.String(3))
    created_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    completed_at: so.Mapped[dt.datetime | None]

    campaign: so.Mapped[Campaign] = so.relationship(foreign_keys=[campaign_id])
    origin_campaign: so.Mapped[Campaign | None] = so.relationship(foreign_keys=[origin_campaign_id])
    lead = so.relationship("Lead")
    agent = so.relationship("User", foreign_keys=[agent_id])

    @property
    def local_due_at(self) -> dt.datetime:
        from zoneinfo import ZoneInfo

        return self.due_at.astimezone(ZoneInfo(self.timezone))

    @property
    def shared(self) -> bool:
        return self.agent_id is None


class DialAttempt(TenantScoped, Base):
    """One call attempt to a number (R2 counts them per professional over 30 days)."""

    __tablename__ = "dial_attempts"
    __table_args__ = (sa.Index("ix_dial_attempts_phone", "tenant_id", "phone_number", "attempted_at"),)

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    tenant_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    campaign_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="SET NULL"))
    lead_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger, sa.ForeignKey("leads.id", ondelete="SET NULL"))
    phone_number: so.Mapped[str] = so.mapped_column(sa.String(20))
    attempted_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    status_code: so.Mapped[str | None] = so.mapped_column(sa.String(3))
    # The disposition was NOT_INTERESTED: starts the refusal delay (R2).
    refusal: so.Mapped[bool] = so.mapped_column(default=False)


class ComplianceBlock(TenantScoped, Base):
    """R6: one refused dial with its reason, for the manager's compliance report."""

    __tablename__ = "compliance_blocks"
    __table_args__ = (sa.Index("ix_compliance_blocks_campaign_at", "campaign_id", "blocked_at"),)

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    tenant_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    campaign_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    lead_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger, sa.ForeignKey("leads.id", ondelete="SET NULL"))
    phone_number: so.Mapped[str] = so.mapped_column(sa.String(20))
    reason: so.Mapped[str] = so.mapped_column(sa.String(20))
    blocked_at: so.Mapped[dt.datetime] = so.mapped_column(default=utcnow)
    next_allowed_at: so.Mapped[dt.datetime | None]
