"""The compliance report (R4, R5, R6): abandon rate per campaign per day, over the
last 24 hours and over 30 days against the campaign's target; blocked dials by reason
(``app.campaigns.compliance.block_report``); presented-number warnings
(``app.compliance.check_presented_numbers``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.campaigns.compliance import BlockReport, block_report
from app.campaigns.models import Campaign
from app.compliance import ComplianceWarning, check_presented_numbers
from app.extensions import Session
from app.reports.models import ReportDaily, ReportHourly
from app.reports.services import Period, Table
from app.supervision.counters import abandon_rate


@dataclass
class CampaignCompliance:
    campaign: Campaign
    target: float
    rate_24h: float
    rate_period: float
    rate_30d: float
    days: list[tuple[dt.date, float, int]]  # day, abandon rate %, answered live calls
    blocks: BlockReport
    warnings: list[ComplianceWarning] = field(default_factory=list)

    @property
    def days_over_target(self) -> int:
        return sum(1 for _, rate, _ in self.days if rate > self.target)


@dataclass
class ComplianceReport:
    campaigns: list[CampaignCompliance]
    table: Table


def _rates(query: sa.Select) -> dict[int, float]:
    return {cid: abandon_rate(int(ab), int(an), int(ma)) for cid, an, ma, ab in Session.execute(query)}


def _sums(table: type) -> tuple:
    return (table.campaign_id, sa.func.sum(table.answered), sa.func.sum(table.machines), sa.func.sum(table.abandoned))


def build(period: Period, campaign: Campaign | None, now: dt.datetime) -> ComplianceReport:
    campaigns = [campaign] if campaign else list(Session.scalars(
        sa.select(Campaign).where(Campaign.archived_at.is_(None)).order_by(Campaign.name)))
    rate_24h = _rates(sa.select(*_sums(ReportHourly)).where(ReportHourly.hour >= now - dt.timedelta(hours=24))
                      .group_by(ReportHourly.campaign_id))
    rate_period = _rates(sa.select(*_sums(ReportDaily)).where(ReportDaily.day >= period.first,
                                                              ReportDaily.day <= period.last)
                         .group_by(ReportDaily.campaign_id))
    rate_30d = _rates(sa.select(*_sums(ReportDaily)).where(ReportDaily.day > period.last - dt.timedelta(days=30),
                                                           ReportDaily.day <= period.last)
                      .group_by(ReportDaily.campaign_id))
    per_day: dict[int, list[tuple[dt.date, float, int]]] = {}
    for cid, day, answered, machines, abandoned in Session.execute(
            sa.select(ReportDaily.campaign_id, ReportDaily.day, sa.func.sum(ReportDaily.answered),
                      sa.func.sum(ReportDaily.machines), sa.func.sum(ReportDaily.abandoned))
            .where(ReportDaily.day >= period.first, ReportDaily.day <= period.last)
            .group_by(ReportDaily.campaign_id, ReportDaily.day).order_by(ReportDaily.day)):
        per_day.setdefault(cid, []).append((day, abandon_rate(int(abandoned), int(answered), int(machines)),
                                            int(answered) - int(machines)))
    since, _ = period.bounds
    rows = []
    table = Table(str(_l("Compliance")), [], [])
    for item in campaigns:
        target = round(100.0 * item.abandon_target, 2)
        entry = CampaignCompliance(item, target, rate_24h.get(item.id, 0.0), rate_period.get(item.id, 0.0),
                                   rate_30d.get(item.id, 0.0), per_day.get(item.id, []),
                                   block_report(item, since, period.zone), check_presented_numbers(item))
        rows.append(entry)
        table.rows.append({
            "campaign_label": item.name, "target": target, "rate_24h": entry.rate_24h,
            "rate_period": entry.rate_period, "rate_30d": entry.rate_30d, "days_over": entry.days_over_target,
            "blocks": entry.blocks.total, "warnings": len(entry.warnings)})
    table.fixed_columns = [
        ("campaign_label", str(_l("Campaign")), "text"), ("target", str(_l("Target")), "rate"),
        ("rate_24h", str(_l("Abandon 24 h")), "rate"), ("rate_period", str(_l("Abandon over the period")), "rate"),
        ("rate_30d", str(_l("Abandon 30 days")), "rate"), ("days_over", str(_l("Days over target")), "int"),
        ("blocks", str(_l("Blocked dials")), "int"), ("warnings", str(_l("Presented-number warnings")), "int")]
    return ComplianceReport(rows, table)
