"""Report queries. Everything but the call search reads the summary tables: one
``aggregate()`` groups ``report_daily`` (or ``report_hourly`` for an hour dimension)
by the chosen dimensions over whole days of the tenant's time zone; the ready-made
reports, the dashboard and the custom reports are all made of it."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.auth.models import User
from app.campaigns.models import Campaign, CampaignStatus
from app.extensions import Session
from app.leads.models import LeadList
from app.reports.models import ReportDaily, ReportHourly
from app.reports.rollup import day_bounds

MAX_DAYS = 366
EXPORT_ROW_LIMIT = 1_000_000  # detailed records in one export file
EXPORT_SYNC_ROWS = 20_000  # beyond this a worker builds the file


class ReportError(ValueError):
    """Bad report input; the message is shown to the user."""


# ----------------------------------------------------------------- periods
PRESETS = {"today": _l("Today"), "yesterday": _l("Yesterday"), "week": _l("This week"), "month": _l("This month"),
           "30d": _l("Last 30 days"), "custom": _l("Custom")}


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date
    zone: str
    preset: str = "custom"

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        return day_bounds(self.first, self.zone)[0], day_bounds(self.last, self.zone)[1]

    def day_list(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range(self.days)]


def parse_period(preset: str | None, first: str | None, last: str | None, zone: str,
                 today: dt.date | None = None) -> Period:
    today = today or dt.datetime.now(ZoneInfo(zone)).date()
    preset = preset if preset in PRESETS else ("custom" if first or last else "today")
    if preset == "today":
        return Period(today, today, zone, preset)
    if preset == "yesterday":
        day = today - dt.timedelta(days=1)
        return Period(day, day, zone, preset)
    if preset == "week":
        return Period(today - dt.timedelta(days=today.weekday()), today, zone, preset)
    if preset == "month":
        return Period(today.replace(day=1), today, zone, preset)
    if preset == "30d":
        return Period(today - dt.timedelta(days=29), today, zone, preset)
    try:
        start = dt.date.fromisoformat(first) if first else today
        end = dt.date.fromisoformat(last) if last else start
    except ValueError as exc:
        raise ReportError(_l("Dates are written YYYY-MM-DD.")) from exc
    if end < start:
        raise ReportError(_l("The end date is before the start date."))
    if (end - start).days + 1 > MAX_DAYS:
        raise ReportError(_l("A report covers at most %(days)s days: choose a shorter period.", days=MAX_DAYS))
    return Period(start, end, zone, "custom")


# ------------------------------------------------------ dimensions/measures
DIMENSIONS = {
    "agent": _l("Agent"), "campaign": _l("Campaign"), "list": _l("List"), "status": _l("Status"),
    "direction": _l("Type"), "hour": _l("Hour"), "day": _l("Day"), "week": _l("Week"), "area": _l("Postal area"),
}
BASE_MEASURES = ("calls", "answered", "connected", "abandoned", "machines", "sales", "callbacks",
                 "talk_s", "wrapup_s", "ring_s", "wait_s", "billed_s", "cost", "priced")
MEASURES = {
    "calls": _l("Calls"), "answered": _l("Answered"), "connected": _l("Connected to an agent"),
    "abandoned": _l("Abandoned"), "machines": _l("Answering machines"), "sales": _l("Sales"),
    "callbacks": _l("Callbacks"), "talk_s": _l("Talk time"), "wrapup_s": _l("Wrap-up time"),
    "ring_s": _l("Ring time"), "wait_s": _l("Customer wait"), "answer_rate": _l("Answer rate"),
    "contact_rate": _l("Contact rate"), "abandon_rate": _l("Abandon rate"), "conversion": _l("Sales per contact"),
    "avg_talk_s": _l("Average talk"), "billed_s": _l("Billed time"), "cost": _l("Cost"),
    "avg_cost": _l("Average cost per call"), "cost_per_sale": _l("Cost per sale"),
}
DURATIONS = frozenset({"talk_s", "wrapup_s", "ring_s", "wait_s", "avg_talk_s", "billed_s"})
RATES = frozenset({"answer_rate", "contact_rate", "abandon_rate", "conversion"})
# Money, in EUR (Decimal): the cost of priced calls (those a carrier's rate matched).
MONEY = frozenset({"cost", "avg_cost", "cost_per_sale"})
CENT = Decimal("0.0001")


def derive(row: dict) -> dict:
    """Rates and averages from the additive measures of one row (in %)."""
    live = row["answered"] - row["machines"]
    row["answer_rate"] = round(100.0 * row["answered"] / row["calls"], 1) if row["calls"] else 0.0
    row["contact_rate"] = round(100.0 * live / row["calls"], 1) if row["calls"] else 0.0
    row["abandon_rate"] = round(100.0 * row["abandoned"] / live, 2) if live > 0 else 0.0
    row["conversion"] = round(100.0 * row["sales"] / row["connected"], 1) if row["connected"] else 0.0
    row["avg_talk_s"] = round(row["talk_s"] / row["connected"], 1) if row["connected"] else 0.0
    # averages over priced calls only: a call without a rate has an unknown cost, not 0
    row["avg_cost"] = (row["cost"] / row["priced"]).quantize(CENT) if row["priced"] else None
    row["cost_per_sale"] = (row["cost"] / row["sales"]).quantize(CENT) if row["sales"] and row["priced"] else None
    return row


@dataclass
class Table:
    """A report's result: what the page, the charts and every export format read."""

    title: str
    dimensions: list[str]
    measures: list[str]
    rows: list[dict] = field(default_factory=list)
    totals: dict = field(default_factory=dict)
    fixed_columns: list[tuple[str, str, str]] | None = None

    def columns(self) -> list[tuple[str, str, str]]:
        """(key, label, kind) with kind 'text', 'int', 'duration', 'rate' or 'money'."""
        if self.fixed_columns is not None:
            return self.fixed_columns
        cols = [(f"{d}_label", str(DIMENSIONS[d]), "text") for d in self.dimensions]
        for m in self.measures:
            cols.append((m, str(MEASURES[m]), measure_kind(m)))
        return cols


def measure_kind(measure: str) -> str:
    return "duration" if measure in DURATIONS else "rate" if measure in RATES else \
        "money" if measure in MONEY else "int"


def _summary_query(period: Period, dimensions: list[str], filters: dict) -> sa.Select:
    hourly = "hour" in dimensions
    table = ReportHourly if hourly else ReportDaily
    start, end = period.bounds
    columns: dict[str, sa.ColumnElement] = {
        "agent": table.agent_id, "campaign": table.campaign_id, "list": table.list_id, "direction": table.direction,
        "area": table.area,
        "status": sa.func.concat(table.campaign_id, ":", table.disposition),
    }
    if hourly:
        local = sa.func.timezone(period.zone, table.hour)
        columns["hour"] = sa.func.extract("hour", local)
        columns["day"] = sa.cast(local, sa.Date)
    else:
        columns["day"] = table.day
    columns["week"] = sa.cast(sa.func.date_trunc("week", columns["day"]), sa.Date)
    chosen = [columns[d].label(d) for d in dimensions]
    sums = [sa.func.coalesce(sa.func.sum(getattr(table, m)), 0).label(m) for m in BASE_MEASURES]
    query = sa.select(*chosen, *sums)
    if hourly:
        query = query.where(table.hour >= start, table.hour < end)
    else:
        query = query.where(table.day >= period.first, table.day <= period.last)
    if filters.get("campaign_id"):
        query = query.where(table.campaign_id == filters["campaign_id"])
    if filters.get("agent_id"):
        query = query.where(table.agent_id == filters["agent_id"])
    if chosen:
        query = query.group_by(*[sa.literal_column(d) for d in dimensions])
    return query


class Labels:
    """Names for the ids the summary tables hold (read once per report)."""

    def __init__(self) -> None:
        self._agents: dict[int, str] | None = None
        self._campaigns: dict[int, str] | None = None
        self._lists: dict[int, str] | None = None
        self._statuses: dict[str, str] | None = None

    def agent(self, value: object) -> str:
        if self._agents is None:
            self._agents = dict(Session.execute(sa.select(User.id, User.display_name)).tuples().all())
        return self._agents.get(value, str(_l("No agent")) if value is None else f"#{value}")  # type: ignore[arg-type]

    def campaign(self, value: object) -> str:
        if self._campaigns is None:
            self._campaigns = dict(Session.execute(sa.select(Campaign.id, Campaign.name)).tuples().all())
        return self._campaigns.get(value, str(_l("No campaign")) if value is None else f"#{value}")  # type: ignore[arg-type]

    def list(self, value: object) -> str:
        if self._lists is None:
            self._lists = dict(Session.execute(sa.select(LeadList.id, LeadList.name)).tuples().all())
        return self._lists.get(value, "—" if value is None else f"#{value}")  # type: ignore[arg-type]

    def status(self, value: object) -> str:
        if self._statuses is None:
            self._statuses = {f"{cid}:{code}": f"{code} · {name}" for cid, code, name in Session.execute(
                sa.select(CampaignStatus.campaign_id, CampaignStatus.code, CampaignStatus.name))}
        text = str(value or "")
        return self._statuses.get(text, text.split(":", 1)[-1] or str(_l("No status")))

    def label(self, dimension: str, value: object) -> str:
        if dimension in ("agent", "campaign", "list", "status"):
            return getattr(self, dimension)(value)
        if dimension == "direction":
            return {"out": str(_l("Outbound")), "in": str(_l("Inbound")), "internal": str(_l("Internal"))}.get(
                str(value), str(value))
        if dimension == "hour":
            return f"{int(value):02d}h" if value is not None else "—"  # type: ignore[arg-type]
        if dimension == "day":
            return value.strftime("%d/%m/%Y") if value else "—"  # type: ignore[union-attr]
        if dimension == "week":
            return str(_l("Week of %(day)s", day=value.strftime("%d/%m/%Y"))) if value else "—"  # type: ignore[union-attr]
        return str(value) if value else "—"


def aggregate(period: Period, dimensions: list[str], measures: list[str], filters: dict | None = None,
              title: str = "") -> Table:
    unknown = [d for d in dimensions if d not in DIMENSIONS] + [m for m in measures if m not in MEASURES]
    if unknown:
        raise ReportError(_l("Unknown report field: %(names)s.", names=", ".join(unknown)))
    rows = Session.execute(_summary_query(period, dimensions, filters or {})).mappings().all()
    labels = Labels()
    table = Table(title, list(dimensions), list(measures))
    for raw in rows:
        row = dict(raw)  # the sums come typed: int, float, Decimal (cost)
        for d in dimensions:
            row[f"{d}_label"] = labels.label(d, raw[d])
        table.rows.append(derive(row))
    sort_keys = [d for d in dimensions if d in ("week", "day", "hour")]
    if sort_keys:
        table.rows.sort(key=lambda r: tuple(r[k] for k in sort_keys))
    else:
        table.rows.sort(key=lambda r: -r["calls"])
    table.totals = derive({m: sum(r[m] for r in table.rows) for m in BASE_MEASURES})
    return table


# ------------------------------------------------------------ ready-made
def agent_performance(period: Period, campaign_id: int | None = None) -> Table:
    return aggregate(period, ["agent"], ["calls", "connected", "sales", "callbacks", "conversion", "talk_s",
                                         "avg_talk_s", "wrapup_s"], {"campaign_id": campaign_id},
                     str(_l("Agent performance")))


def campaign_results(period: Period, campaign_id: int | None = None) -> Table:
    return aggregate(period, ["campaign"], ["calls", "answered", "contact_rate", "connected", "sales", "callbacks",
                                            "abandoned", "abandon_rate", "cost", "cost_per_sale"],
                     {"campaign_id": campaign_id}, str(_l("Campaign results")))


def telecom_costs(period: Period, campaign_id: int | None = None) -> Table:
    """What calling cost per day and campaign: billed time, cost, average per call."""
    return aggregate(period, ["day", "campaign"], ["calls", "answered", "billed_s", "cost", "avg_cost"],
                     {"campaign_id": campaign_id}, str(_l("Telecom costs")))


def status_breakdown(period: Period, campaign_id: int | None = None) -> Table:
    return aggregate(period, ["status"], ["calls", "connected", "talk_s"], {"campaign_id": campaign_id},
                     str(_l("Status breakdown")))


def abandon_by_day(period: Period, campaign_id: int | None = None) -> Table:
    table = aggregate(period, ["day"], ["answered", "abandoned", "abandon_rate"],
                      {"campaign_id": campaign_id}, str(_l("Abandon per day")))
    return table


def by_hour(period: Period, campaign_id: int | None = None, agent_id: int | None = None) -> Table:
    return aggregate(period, ["hour"], ["calls", "answered", "connected", "sales", "callbacks", "talk_s",
                                        "wait_s", "abandon_rate"], {"campaign_id": campaign_id, "agent_id": agent_id},
                     str(_l("Hour by hour")))


def _plain(value: object) -> object:
    """Chart data is JSON: money (Decimal) goes as a float."""
    return float(value) if isinstance(value, Decimal) else value


def chart_spec(table: Table, label_key: str, series: list[tuple[str, str]], chart_type: str = "bar",
               threshold: float | None = None, percent: bool = False) -> dict:
    """A ``canvas[data-chart]`` description for static/js/charts.js."""
    spec: dict = {"type": chart_type, "labels": [r[label_key] for r in table.rows], "animate": False,
                  "datasets": [{"label": str(label), "data": [_plain(r[key]) for r in table.rows]}
                               for key, label in series]}
    if threshold is not None:
        spec["threshold"] = {"value": threshold, "label": str(_l("Target %(value)s %%", value=threshold))}
        spec["suggestedMax"] = max([threshold * 1.5] + [_plain(r[series[0][0]]) or 0 for r in table.rows])
    if percent:
        spec["format"] = "percent"
    return spec


# ------------------------------------------------------------- call search
CALL_PAGE = 100


@dataclass(frozen=True)
class CallFilters:
    period: Period
    direction: str | None = None
    campaign_id: int | None = None
    agent_id: int | None = None
    number: str | None = None
    min_s: float | None = None
    max_s: float | None = None
    status: str | None = None


@dataclass
class CallSearch:
    rows: list
    totals: dict
    next_cursor: str | None


def _call_conditions(filters: CallFilters) -> list[sa.ColumnElement[bool]]:
    from app.calls.models import Call

    start, end = filters.period.bounds
    conditions: list[sa.ColumnElement[bool]] = [Call.started_at >= start, Call.started_at < end]
    if filters.direction:
        conditions.append(Call.direction == filters.direction)
    if filters.campaign_id:
        conditions.append(Call.campaign_id == filters.campaign_id)
    if filters.agent_id:
        conditions.append(Call.agent_id == filters.agent_id)
    if filters.number:
        digits = "".join(ch for ch in filters.number if ch.isdigit())
        conditions.append(Call.phone_number.like(f"%{digits[-9:]}%"))
    if filters.min_s is not None:
        conditions.append(sa.func.coalesce(Call.talk_s, 0) >= filters.min_s)
    if filters.max_s is not None:
        conditions.append(sa.func.coalesce(Call.talk_s, 0) <= filters.max_s)
    if filters.status:
        conditions.append(Call.disposition == filters.status.upper())
    return conditions


def search_calls(filters: CallFilters, cursor: str | None = None, limit: int = CALL_PAGE) -> CallSearch:
    """Call detail records matching the filters, newest first (keyset pages), with the
    totals of the whole selection."""
    from app.calls.models import Call

    if filters.min_s is not None and filters.max_s is not None and filters.max_s < filters.min_s:
        raise ReportError(_l("The longest duration is shorter than the shortest."))
    conditions = _call_conditions(filters)
    totals = call_totals(conditions)
    query = sa.select(Call).where(*conditions).order_by(Call.started_at.desc(), Call.id.desc()).limit(limit + 1)
    if cursor:
        try:
            at_text, id_text = cursor.split("|", 1)
            at, call_id = dt.datetime.fromisoformat(at_text), uuid.UUID(id_text)
        except ValueError as exc:
            raise ReportError(_l("This page link is no longer valid.")) from exc
        query = query.where(sa.tuple_(Call.started_at, Call.id) < sa.tuple_(
            sa.literal(at, sa.DateTime(timezone=True)), sa.literal(call_id, sa.Uuid())))
    rows = list(Session.scalars(query))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = f"{rows[-1].started_at.isoformat()}|{rows[-1].id}"
    return CallSearch(rows, totals, next_cursor)


def call_totals(conditions: list[sa.ColumnElement[bool]]) -> dict:
    """Totals and averages of a call selection. The cost is summed and averaged over
    the priced calls only (``priced``): a call no rate matched has an unknown cost."""
    from app.calls.models import Call

    totals = dict(Session.execute(sa.select(
        sa.func.count().label("calls"), sa.func.count(Call.answered_at).label("answered"),
        sa.func.count(Call.bridged_at).label("connected"),
        sa.func.count().filter(Call.abandoned).label("abandoned"),
        sa.func.coalesce(sa.func.sum(Call.talk_s), 0).label("talk_s"),
        sa.func.coalesce(sa.func.avg(Call.talk_s), 0).label("avg_talk_s"),
        sa.func.coalesce(sa.func.sum(Call.ring_s), 0).label("ring_s"),
        sa.func.coalesce(sa.func.avg(Call.ring_s), 0).label("avg_ring_s"),
        sa.func.coalesce(sa.func.sum(Call.billsec), 0).label("billed_s"),
        sa.func.coalesce(sa.func.avg(Call.billsec), 0).label("avg_billed_s"),
        sa.func.count(Call.cost).label("priced"),
        sa.func.sum(Call.cost).label("cost"),
        sa.func.avg(Call.cost).label("avg_cost"),
    ).where(*conditions)).mappings().one())
    totals["answer_rate"] = round(100.0 * totals["answered"] / totals["calls"], 1) if totals["calls"] else 0.0
    if totals["avg_cost"] is not None:
        totals["avg_cost"] = totals["avg_cost"].quantize(CENT)
    return totals


def call_footers(filters: CallFilters) -> tuple[dict, dict]:
    """The totals and the averages rows of a call export, keyed like ``CALL_COLUMNS``."""
    totals = call_totals(_call_conditions(filters))
    return ({"started": str(_l("Total: %(n)s calls", n=totals["calls"])), "talk_s": totals["talk_s"],
             "ring_s": totals["ring_s"], "billsec": totals["billed_s"], "cost": totals["cost"],
             "abandoned": totals["abandoned"]},
            {"started": str(_l("Average")), "talk_s": totals["avg_talk_s"], "ring_s": totals["avg_ring_s"],
             "billsec": totals["avg_billed_s"], "cost": totals["avg_cost"]})


def calls_table(filters: CallFilters, limit: int) -> Table:
    """The search as a table for exports (detailed records, at most ``limit``)."""
    from app.calls.models import Call

    labels = Labels()
    zone = ZoneInfo(filters.period.zone)
    table = Table(str(_l("Call details")), [], [])
    query = sa.select(Call).where(*_call_conditions(filters)).order_by(Call.started_at.desc()).limit(limit)
    for call in Session.scalars(query):
        table.rows.append({
            "started": call.started_at.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S"),
            "direction": labels.label("direction", call.direction), "campaign": labels.campaign(call.campaign_id),
            "agent": labels.agent(call.agent_id) if call.agent_id else "—", "number": call.phone_number,
            "status": call.disposition or "", "talk_s": round(call.talk_s or 0.0, 1),
            "ring_s": round(call.ring_s or 0.0, 1), "abandoned": _l("yes") if call.abandoned else "",
            "billsec": call.billsec, "cost": call.cost,
        })
    return table


CALL_COLUMNS = [("started", _l("Start"), "text"), ("direction", _l("Type"), "text"),
                ("campaign", _l("Campaign"), "text"), ("agent", _l("Agent"), "text"),
                ("number", _l("Number"), "text"), ("status", _l("Status"), "text"),
                ("talk_s", _l("Talk time"), "duration"), ("ring_s", _l("Ring time"), "duration"),
                ("abandoned", _l("Abandoned"), "text"),
                ("billsec", _l("Billed time"), "duration"), ("cost", _l("Cost"), "money")]


# ------------------------------------------------------- agent time, pauses
STATE_MEASURES = {"ready": "wait_s", "ringing": "ringing_s", "in_call": "in_call_s", "wrap_up": "wrap_up_s",
                  "paused": "paused_s"}
TIME_COLUMNS = [("wait_s", _l("Waiting for a call"), "duration"), ("ringing_s", _l("Ringing"), "duration"),
                ("in_call_s", _l("In call"), "duration"), ("wrap_up_s", _l("Wrap-up"), "duration"),
                ("paused_s", _l("Paused"), "duration"), ("logged_s", _l("Logged in"), "duration")]


def clipped_spans(start: dt.datetime, end: dt.datetime, now: dt.datetime, *, campaign_id: int | None = None,
                  agent_id: int | None = None) -> sa.Select:
    """(agent, state, pause code, seconds, spans) of the agents' recorded states, each
    span cut to [start, end); a span still open counts up to ``now``."""
    from app.supervision.models import AgentStateSpan as S

    until = sa.func.coalesce(S.ended_at, sa.literal(now, sa.DateTime(timezone=True)))
    seconds = sa.func.extract("epoch", sa.func.least(until, end) - sa.func.greatest(S.started_at, start))
    query = sa.select(S.agent_id, S.state, S.pause_code, sa.func.sum(seconds).label("seconds"),
                      sa.func.count().label("count")).where(S.started_at < end, until > start)
    if campaign_id:
        query = query.where(S.campaign_id == campaign_id)
    if agent_id is not None:
        query = query.where(S.agent_id == agent_id)
    return query.group_by(S.agent_id, S.state, S.pause_code)


def agent_times(period: Period, campaign_id: int | None = None, now: dt.datetime | None = None) -> Table:
    """Per agent: time waiting for a call, ringing, in call, in wrap-up, paused."""
    labels = Labels()
    rows: dict[int, dict] = {}
    for agent_id, state, _code, seconds, _count in Session.execute(
            clipped_spans(*period.bounds, now or dt.datetime.now(dt.UTC), campaign_id=campaign_id)):
        row = rows.setdefault(agent_id, {"agent_label": labels.agent(agent_id),
                                         **{key: 0.0 for key, _, _ in TIME_COLUMNS}})
        key = STATE_MEASURES.get(state)
        if key:
            row[key] += float(seconds or 0)
            row["logged_s"] += float(seconds or 0)
    table = Table(str(_l("Agent time")), [], [], sorted(rows.values(), key=lambda r: r["agent_label"]))
    table.fixed_columns = [("agent_label", str(_l("Agent")), "text")] + [(k, str(v), t) for k, v, t in TIME_COLUMNS]
    table.totals = {key: sum(r[key] for r in table.rows) for key, _, _ in TIME_COLUMNS}
    return table


def pause_report(period: Period, campaign_id: int | None = None, now: dt.datetime | None = None) -> Table:
    """Pause time per agent and pause code."""
    labels = Labels()
    table = Table(str(_l("Pauses")), [], [])
    for agent_id, state, code, seconds, count in Session.execute(
            clipped_spans(*period.bounds, now or dt.datetime.now(dt.UTC), campaign_id=campaign_id)):
        if state != "paused":
            continue
        table.rows.append({"agent_label": labels.agent(agent_id), "pause_code": code or "—",
                           "pauses": int(count), "paused_s": float(seconds or 0),
                           "avg_s": float(seconds or 0) / int(count) if count else 0.0})
    table.rows.sort(key=lambda r: (r["agent_label"], -r["paused_s"]))
    table.fixed_columns = [("agent_label", str(_l("Agent")), "text"), ("pause_code", str(_l("Pause code")), "text"),
                           ("pauses", str(_l("Pauses")), "int"), ("paused_s", str(_l("Pause time")), "duration"),
                           ("avg_s", str(_l("Average pause")), "duration")]
    table.totals = {"pauses": sum(r["pauses"] for r in table.rows),
                    "paused_s": sum(r["paused_s"] for r in table.rows)}
    table.totals["avg_s"] = table.totals["paused_s"] / table.totals["pauses"] if table.totals["pauses"] else 0.0
    return table
