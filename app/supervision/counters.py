"""Per-day wallboard figures in Redis: calls today per campaign (answered, answering
machines, abandoned, sales) and per agent, kept by the call events.

- Every ended call (the ``call.ended`` signal, ``app.supervision.receivers``) adds to
  its tenant's hash of the day, ``<prefix>:t<tenant>:day:<YYYY-MM-DD>`` (the day the
  call started, in the tenant's time zone; fields ``c<campaign>:<measure>`` and
  ``a<agent>:calls``; kept ``DAY_TTL_S``), once its transaction has committed, and the
  new values are published on the tenant's channel: open wallboards show them at once.
- The minute job only reconciles (``reconcile``): it recomputes today from the calls
  table (ended calls, the ones the events count) and corrects the hash by the
  difference (HINCRBY, so increments landing meanwhile are kept), e.g. after a dialer
  crashed between its commit and its increment, or calls closed without an event
  (``close_orphans``). It also stores what changes slowly: the 29 days before today
  (for the 30-day abandon rate). Compliance blocks (the ``dial.blocked`` signal) count
  in the same hash (``c<campaign>:blocks``) and are reconciled the same way.

Nothing here re-reads the calls table per wallboard or per second."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.campaigns.models import CampaignStatus, ComplianceBlock
from app.extensions import Session, redis
from app.oncommit import after_commit
from app.realtime import bus
from app.reports.models import ReportDaily
from app.reports.rollup import day_bounds

log = logging.getLogger(__name__)

ABANDON_WINDOW_DAYS = 30
DAY_TTL_S = 3 * 86400
CAMPAIGN_MEASURES = ("calls", "answered", "machines", "abandoned", "sales")
DEFAULT_ZONE = "Europe/Paris"
_PENDING = "wallboard_day_counts"


def abandon_rate(abandoned: int, answered: int, machines: int) -> float:
    """R4: answered calls not connected to an agent in time ÷ answered live calls, in %."""
    live = answered - machines
    return round(100.0 * abandoned / live, 2) if live > 0 else 0.0


def day_key(tenant_id: int, day: str) -> str:
    return f"{bus.PREFIX}:t{tenant_id}:day:{day}"


def local_day(at: dt.datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).date().isoformat()


# ------------------------------------------------------------------ events
def call_fields(campaign_id: int | None, agent_id: int | None, *, answered: bool, machine: bool,
                abandoned: bool, sale: bool) -> dict[str, int]:
    """What one ended call adds to its day. Every campaign measure is named (0 or 1),
    so the increments return the campaign's whole day."""
    fields: dict[str, int] = {}
    if campaign_id is not None:
        values = (1, answered, machine, abandoned, sale)
        fields.update({f"c{campaign_id}:{name}": int(value) for name, value in zip(CAMPAIGN_MEASURES, values,
                                                                                   strict=True)})
    if agent_id is not None:
        fields[f"a{agent_id}:calls"] = 1
    return fields


def is_sale(campaign_id: int | None, disposition: str | None) -> bool:
    if campaign_id is None or not disposition:
        return False
    return bool(Session.scalar(sa.select(CampaignStatus.sale).where(
        CampaignStatus.campaign_id == campaign_id, CampaignStatus.code == disposition)))


def add_to_day(tenant_id: int, day: str, fields: dict[str, int]) -> dict[str, int]:
    """Add to the day's counters and announce their new values; returns them."""
    if not fields:
        return {}
    key = day_key(tenant_id, day)
    names = list(fields)
    pipe = redis().pipeline(transaction=False)
    for name in names:
        pipe.hincrby(key, name, fields[name])
    pipe.expire(key, DAY_TTL_S)
    current = dict(zip(names, pipe.execute()[:len(names)], strict=True))
    bus.publish(tenant_id, {"type": "counters", "day": day, "fields": current})
    return current


def count_after_commit(session: so.Session, tenant_id: int, day: str, fields: dict[str, int]) -> None:
    """Count once the transaction commits (a rolled-back call end or block counts
    nothing; with Redis away the rows are committed all the same and the next
    reconciliation counts them). A transaction's counts are summed and sent once per
    day at its commit (a hopper refill may log thousands of blocks)."""
    transaction = session.get_transaction()
    held = session.info.get(_PENDING)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[_PENDING] = held
        after_commit(session, functools.partial(_add_batch, held[1]))
    batch = held[1].setdefault((tenant_id, day), {})
    for name, amount in fields.items():
        batch[name] = batch.get(name, 0) + amount


def _add_batch(batch: dict[tuple[int, str], dict[str, int]]) -> None:
    for (tenant_id, day), fields in batch.items():
        add_to_day(tenant_id, day, fields)


# ---------------------------------------------------------- reconciliation
def day_from_calls(start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Today's fields as the calls table has them: the ended calls that started in
    [start, end) (current tenant's scope)."""
    from app.calls.models import Call

    status = CampaignStatus
    query = (
        sa.select(Call.campaign_id, Call.agent_id, sa.func.count(), sa.func.count(Call.answered_at),
                  sa.func.count().filter(Call.is_machine.is_(True)), sa.func.count().filter(Call.abandoned),
                  sa.func.count().filter(status.sale.is_(True)))
        .outerjoin(status, sa.and_(status.campaign_id == Call.campaign_id, status.code == Call.disposition))
        .where(Call.started_at >= start, Call.started_at < end, Call.ended_at.is_not(None))
        .group_by(Call.campaign_id, Call.agent_id)
    )
    fields: dict[str, int] = {}
    for campaign_id, agent_id, *values in Session.execute(query):
        if campaign_id is not None:
            for name, value in zip(CAMPAIGN_MEASURES, values, strict=True):
                key = f"c{campaign_id}:{name}"
                fields[key] = fields.get(key, 0) + int(value)
        if agent_id is not None:
            fields[f"a{agent_id}:calls"] = fields.get(f"a{agent_id}:calls", 0) + int(values[0])
    return fields


def blocks_of_day(start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Today's compliance blocks per campaign as the table has them (``c<id>:blocks``)."""
    return {f"c{campaign_id}:blocks": int(count) for campaign_id, count in Session.execute(
        sa.select(ComplianceBlock.campaign_id, sa.func.count()).where(ComplianceBlock.blocked_at >= start,
                                                                       ComplianceBlock.blocked_at < end)
        .group_by(ComplianceBlock.campaign_id))}


def block_fields(campaign_id: int) -> dict[str, int]:
    """What one logged compliance block adds to its day."""
    return {f"c{campaign_id}:blocks": 1}


def _corrections(before: dict[str, str], truth: dict[str, int]) -> dict[str, int]:
    corrections = {}
    for name in set(before) | set(truth):
        difference = truth.get(name, 0) - int(before.get(name) or 0)
        if difference:
            corrections[name] = difference
    return corrections


def reconcile(tenant_id: int, now: dt.datetime, zone: str) -> dict[str, int]:
    """The minute job's part (in the tenant's scope, after the rollup): correct today's
    counters from the database, store the slow figures. Returns the corrections."""
    day = now.astimezone(ZoneInfo(zone)).date()
    start, end = day_bounds(day, zone)
    key = day_key(tenant_id, day.isoformat())
    # Redis first, then the database: a call committed in between is counted twice
    # until the next run, never lost (the window is one query long).
    before = redis().hgetall(key)
    corrections = _corrections(before, day_from_calls(start, end) | blocks_of_day(start, end))
    add_to_day(tenant_id, day.isoformat(), corrections)
    past: dict[str, list[int]] = {}
    for campaign_id, answered, machines, abandoned in Session.execute(
            sa.select(ReportDaily.campaign_id, sa.func.sum(ReportDaily.answered), sa.func.sum(ReportDaily.machines),
                      sa.func.sum(ReportDaily.abandoned))
            .where(ReportDaily.day > day - dt.timedelta(days=ABANDON_WINDOW_DAYS), ReportDaily.day < day,
                   ReportDaily.campaign_id.is_not(None)).group_by(ReportDaily.campaign_id)):
        past[str(campaign_id)] = [int(answered), int(machines), int(abandoned)]
    bus.store_wallboard_counters(tenant_id, {"day": day.isoformat(), "zone": zone, "past": past,
                                             "reconciled_at": round(now.timestamp(), 3),
                                             "corrected": sum(abs(v) for v in corrections.values())})
    return corrections


# ----------------------------------------------------------------- reading
def read_counters(tenant_id: int, zone: str, now: dt.datetime | None = None) -> dict:
    """What the wallboard shows of today: the day's hash and the reconciled figures
    (those of an earlier day are not today's: left out until the job has run)."""
    day = local_day(now or dt.datetime.now(dt.UTC), zone)
    today = {name: int(value) for name, value in redis().hgetall(day_key(tenant_id, day)).items()}
    base = bus.wallboard_counters(tenant_id)
    fresh = base.get("day") == day
    return {"day": day, "today": today, "past": base.get("past", {}) if fresh else {},
            "reconciled_at": base.get("reconciled_at")}


def with_fields(counters: dict, day: str, fields: dict[str, int]) -> dict:
    """The counters after an event's new values (a new dict: readers keep theirs)."""
    return {**counters, "today": {**counters.get("today", {}), **fields}} if counters.get("day") == day else counters


def agent_calls(counters: dict, agent_id: int) -> int:
    return int(counters.get("today", {}).get(f"a{agent_id}:calls", 0))


def campaign_figures(counters: dict, campaign_id: int) -> dict:
    today = counters.get("today", {})
    calls, answered, machines, abandoned, sales = (int(today.get(f"c{campaign_id}:{name}", 0))
                                                   for name in CAMPAIGN_MEASURES)
    past_answered, past_machines, past_abandoned = counters.get("past", {}).get(str(campaign_id), (0, 0, 0))
    return {"calls": calls, "answered": answered, "sales": sales,
            "abandon_rate": abandon_rate(abandoned, answered, machines),
            "abandon_rate_30d": abandon_rate(abandoned + past_abandoned, answered + past_answered,
                                             machines + past_machines),
            "blocks": int(today.get(f"c{campaign_id}:blocks", 0))}


def touched(fields: Iterable[str]) -> tuple[set[int], set[int]]:
    """The campaign and agent ids an event's fields are about."""
    campaigns: set[int] = set()
    agents: set[int] = set()
    for name in fields:
        owner = name.split(":", 1)[0]
        if owner[1:].isdigit():
            (campaigns if owner[0] == "c" else agents).add(int(owner[1:]))
    return campaigns, agents
