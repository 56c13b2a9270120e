"""The rollup: calls → ``report_hourly`` → ``report_daily``, idempotent per range.

Each run deletes and rebuilds whole hours (and days), so running it twice, or late,
gives the same rows. Statements run in the current tenant's transaction: row-level
security confines both the calls read and the rows written to that tenant."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.extensions import Session
from app.reports.models import MEASURE_COLUMNS

DIMENSION_COLUMNS = ("campaign_id", "agent_id", "list_id", "direction", "disposition", "area")
_COLUMNS = ", ".join(DIMENSION_COLUMNS + MEASURE_COLUMNS)
_SUMS = ", ".join(f"sum({name})" for name in MEASURE_COLUMNS)

_HOURLY = sa.text(f"""
INSERT INTO report_hourly (tenant_id, hour, {_COLUMNS})
SELECT c.tenant_id, date_trunc('hour', c.started_at, 'UTC'),
       c.campaign_id, c.agent_id, l.list_id, c.direction, c.disposition,
       CASE WHEN l.postal_code LIKE '97%' THEN left(l.postal_code, 3) ELSE left(l.postal_code, 2) END,
       count(*), count(c.answered_at), count(c.bridged_at),
       count(*) FILTER (WHERE c.abandoned), count(*) FILTER (WHERE c.is_machine),
       count(*) FILTER (WHERE s.sale), count(*) FILTER (WHERE s.callback),
       coalesce(sum(c.talk_s), 0), coalesce(sum(c.wrapup_s), 0), coalesce(sum(c.ring_s), 0),
       coalesce(sum(extract(epoch FROM c.bridged_at - c.answered_at)), 0),
       coalesce(sum(c.billsec), 0), coalesce(sum(c.cost), 0), count(c.cost)
FROM calls c
LEFT JOIN leads l ON l.id = c.lead_id
LEFT JOIN campaign_statuses s ON s.campaign_id = c.campaign_id AND s.code = c.disposition
WHERE c.started_at >= :start AND c.started_at < :end
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
""")

_DAILY = sa.text(f"""
INSERT INTO report_daily (tenant_id, day, {_COLUMNS})
SELECT tenant_id, (hour AT TIME ZONE :zone)::date, {", ".join(DIMENSION_COLUMNS)}, {_SUMS}
FROM report_hourly
WHERE hour >= :start AND hour < :end
GROUP BY tenant_id, 2, {", ".join(DIMENSION_COLUMNS)}
""")


def hour_floor(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def day_bounds(day: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where ``day`` starts and ends in ``zone``."""
    tz = ZoneInfo(zone)
    start = dt.datetime.combine(day, dt.time(), tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def rollup_hours(start: dt.datetime, end: dt.datetime) -> int:
    """Rebuild the hourly rows of every hour from ``start`` to ``end`` (floored)."""
    start, end = hour_floor(start), hour_floor(end)
    if end <= start:
        return 0
    Session.flush()  # plain SQL below: pending ORM changes would not be seen otherwise
    Session.execute(sa.text("DELETE FROM report_hourly WHERE hour >= :start AND hour < :end"),
                    {"start": start, "end": end})
    result = Session.execute(_HOURLY, {"start": start, "end": end})
    return result.rowcount or 0


def rollup_days(first: dt.date, last: dt.date, zone: str) -> int:
    """Rebuild the daily rows of ``first``..``last`` (tenant's days) from the hourly rows."""
    start, _ = day_bounds(first, zone)
    _, end = day_bounds(last, zone)
    Session.execute(sa.text("DELETE FROM report_daily WHERE day >= :first AND day <= :last"),
                    {"first": first, "last": last})
    result = Session.execute(_DAILY, {"start": start, "end": end, "zone": zone})
    return result.rowcount or 0


def rollup_recent(now: dt.datetime, zone: str) -> None:
    """What the minute job does: the current and previous hour, then today (and
    yesterday during the first hours of a day, when late dispositions still land)."""
    rollup_hours(now - dt.timedelta(hours=1), now + dt.timedelta(hours=1))
    today = now.astimezone(ZoneInfo(zone)).date()
    first = today - dt.timedelta(days=1) if now.astimezone(ZoneInfo(zone)).hour < 2 else today
    rollup_days(first, today, zone)


def rollup_range(first: dt.date, last: dt.date, zone: str) -> None:
    """Rebuild whole days (nightly for yesterday, or after a backfill)."""
    start, _ = day_bounds(first, zone)
    _, end = day_bounds(last, zone)
    rollup_hours(start, end)
    rollup_days(first, last, zone)
