"""Per-day wallboard figures, computed by the rollup job once a minute from the
summary tables (never per wallboard, never per second) and kept in Redis."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.campaigns.models import ComplianceBlock
from app.extensions import Session
from app.realtime import bus
from app.reports.models import ReportDaily, ReportHourly
from app.reports.rollup import day_bounds

ABANDON_WINDOW_DAYS = 30


def abandon_rate(abandoned: int, answered: int, machines: int) -> float:
    """R4: answered calls not connected to an agent in time ÷ answered live calls, in %."""
    live = answered - machines
    return round(100.0 * abandoned / live, 2) if live > 0 else 0.0


def compute_counters(tenant_id: int, now: dt.datetime, zone: str) -> dict:
    today = now.astimezone(ZoneInfo(zone)).date()
    start, _ = day_bounds(today, zone)
    agents = {str(agent_id): int(calls) for agent_id, calls in Session.execute(
        sa.select(ReportHourly.agent_id, sa.func.sum(ReportHourly.calls))
        .where(ReportHourly.hour >= start, ReportHourly.agent_id.is_not(None)).group_by(ReportHourly.agent_id))}
    campaigns: dict[str, dict] = {}
    measures = (sa.func.sum(ReportHourly.calls), sa.func.sum(ReportHourly.answered),
                sa.func.sum(ReportHourly.machines), sa.func.sum(ReportHourly.abandoned), sa.func.sum(ReportHourly.sales))
    for campaign_id, calls, answered, machines, abandoned, sales in Session.execute(
            sa.select(ReportHourly.campaign_id, *measures).where(
                ReportHourly.hour >= start, ReportHourly.campaign_id.is_not(None)).group_by(ReportHourly.campaign_id)):
        campaigns[str(campaign_id)] = {"calls": int(calls), "sales": int(sales),
                                       "abandon_rate": abandon_rate(abandoned, answered, machines)}
    for campaign_id, answered, machines, abandoned in Session.execute(
            sa.select(ReportDaily.campaign_id, sa.func.sum(ReportDaily.answered), sa.func.sum(ReportDaily.machines),
                      sa.func.sum(ReportDaily.abandoned))
            .where(ReportDaily.day > today - dt.timedelta(days=ABANDON_WINDOW_DAYS),
                   ReportDaily.campaign_id.is_not(None)).group_by(ReportDaily.campaign_id)):
        campaigns.setdefault(str(campaign_id), {})["abandon_rate_30d"] = abandon_rate(abandoned, answered, machines)
    for campaign_id, blocks in Session.execute(
            sa.select(ComplianceBlock.campaign_id, sa.func.count()).where(ComplianceBlock.blocked_at >= start)
            .group_by(ComplianceBlock.campaign_id)):
        campaigns.setdefault(str(campaign_id), {})["blocks"] = int(blocks)
    return {"computed_at": round(now.timestamp(), 3), "day": today.isoformat(), "agents": agents,
            "campaigns": campaigns}


def refresh_counters(tenant_id: int, now: dt.datetime, zone: str) -> dict:
    counters = compute_counters(tenant_id, now, zone)
    bus.store_wallboard_counters(tenant_id, counters)
    return counters
