"""Summary tables the reports read instead of the calls table, and saved reports.

``report_hourly`` holds one row per (hour, campaign, agent, direction, disposition,
list, postal area) with additive measures; ``report_daily`` the same per day in the
tenant's time zone. The rollup job rebuilds the recent hours every minute (a call's
disposition arrives after its end, so a closed hour may still change)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects.postgresql import JSONB

from app.db import Base, TenantScoped, Timestamped

# Additive measures shared by both summary tables, in the order of the rollup query.
MEASURE_COLUMNS = ("calls", "answered", "connected", "abandoned", "machines", "sales", "callbacks",
                   "talk_s", "wrapup_s", "ring_s", "wait_s", "billed_s", "cost", "priced")


class _Summary(TenantScoped):
    campaign_id: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    agent_id: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    list_id: so.Mapped[int | None] = so.mapped_column(sa.Integer)
    direction: so.Mapped[str] = so.mapped_column(sa.String(8))
    disposition: so.Mapped[str | None] = so.mapped_column(sa.String(3))
    area: so.Mapped[str | None] = so.mapped_column(sa.String(3))  # French département (postal code prefix)
    calls: so.Mapped[int] = so.mapped_column(default=0)
    answered: so.Mapped[int] = so.mapped_column(default=0)
    connected: so.Mapped[int] = so.mapped_column(default=0)  # bridged to an agent
    abandoned: so.Mapped[int] = so.mapped_column(default=0)
    machines: so.Mapped[int] = so.mapped_column(default=0)
    sales: so.Mapped[int] = so.mapped_column(default=0)
    callbacks: so.Mapped[int] = so.mapped_column(default=0)
    talk_s: so.Mapped[float] = so.mapped_column(sa.Float, default=0.0)
    wrapup_s: so.Mapped[float] = so.mapped_column(sa.Float, default=0.0)
    ring_s: so.Mapped[float] = so.mapped_column(sa.Float, default=0.0)
    wait_s: so.Mapped[float] = so.mapped_column(sa.Float, default=0.0)  # answered → bridged
    billed_s: so.Mapped[float] = so.mapped_column(sa.Float, default=0.0, server_default="0")  # seconds billed
    cost: so.Mapped[Decimal] = so.mapped_column(sa.Numeric(16, 6), default=Decimal(0), server_default="0")  # EUR, priced calls
    priced: so.Mapped[int] = so.mapped_column(default=0, server_default="0")  # calls with a cost (a rate matched)


class ReportHourly(_Summary, Base):
    __tablename__ = "report_hourly"
    __table_args__ = (sa.Index("ix_report_hourly_tenant_hour", "tenant_id", "hour"),)

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    hour: so.Mapped[dt.datetime]  # UTC, truncated to the hour


class ReportDaily(_Summary, Base):
    __tablename__ = "report_daily"
    __table_args__ = (sa.Index("ix_report_daily_tenant_day", "tenant_id", "day"),)

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    day: so.Mapped[dt.date]  # in the tenant's time zone


class SavedReport(TenantScoped, Timestamped, Base):
    """A custom report: dimensions and measures chosen by a manager, shown on the
    interactive dashboard when ``on_dashboard``."""

    __tablename__ = "saved_reports"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    owner_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    dimensions: so.Mapped[list] = so.mapped_column(JSONB, default=list)
    measures: so.Mapped[list] = so.mapped_column(JSONB, default=list)
    period: so.Mapped[str] = so.mapped_column(sa.String(16), default="week")
    chart: so.Mapped[str] = so.mapped_column(sa.String(8), default="bar")
    on_dashboard: so.Mapped[bool] = so.mapped_column(default=True)


class ReportExport(TenantScoped, Timestamped, Base):
    """A report export run by a worker; the file is downloaded from the link once done."""

    __tablename__ = "report_exports"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    report: so.Mapped[str] = so.mapped_column(sa.String(32))
    params: so.Mapped[dict] = so.mapped_column(JSONB, default=dict)
    file_format: so.Mapped[str] = so.mapped_column(sa.String(4))
    state: so.Mapped[str] = so.mapped_column(sa.String(8), default="queued")
    path: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    finished_at: so.Mapped[dt.datetime | None]
