"""Custom reports: dimensions and measures chosen by a manager, saved, shown on the
interactive dashboard."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.audit.services import record_event
from app.auth.models import User
from app.extensions import Session
from app.reports import services
from app.reports.models import SavedReport
from app.reports.services import DIMENSIONS, MEASURES, Period, ReportError, Table

MAX_DIMENSIONS = 3


def save_report(owner: User, name: str, dimensions: list[str], measures: list[str], period: str, chart: str,
                on_dashboard: bool) -> SavedReport:
    name = (name or "").strip()
    if not dimensions or len(dimensions) > MAX_DIMENSIONS:
        raise ReportError(_l("Choose one to %(n)s dimensions.", n=MAX_DIMENSIONS))
    if not measures or any(m not in MEASURES for m in measures) or any(d not in DIMENSIONS for d in dimensions):
        raise ReportError(_l("Choose at least one measure."))
    if Session.scalar(sa.select(SavedReport.id).where(SavedReport.name == name)) is not None:
        raise ReportError(_l("A report with this name already exists."))
    report = SavedReport(name=name, owner_id=owner.id, dimensions=list(dimensions), measures=list(measures),
                         period=period if period in services.PRESETS else "week", chart=chart,
                         on_dashboard=on_dashboard)
    Session.add(report)
    Session.flush()
    record_event("report.saved", actor=owner, target_type="saved_report", target_id=report.id,
                 details={"name": name})
    return report


def delete_report(actor: User, report: SavedReport) -> None:
    record_event("report.deleted", actor=actor, target_type="saved_report", target_id=report.id,
                 details={"name": report.name})
    Session.delete(report)
    Session.flush()


def saved_reports() -> list[SavedReport]:
    return list(Session.scalars(sa.select(SavedReport).order_by(SavedReport.name)))


def run_report(report: SavedReport, period: Period) -> Table:
    return services.aggregate(period, list(report.dimensions), list(report.measures), {}, report.name)


def chart_for(report: SavedReport, table: Table) -> dict | None:
    if report.chart == "none" or not table.rows:
        return None
    label_key = f"{report.dimensions[0]}_label"
    series = [(m, MEASURES[m]) for m in report.measures[:2]]
    return services.chart_spec(table, label_key, series, "line" if report.chart == "line" else "bar",
                               percent=all(m in services.RATES for m, _ in series))


def board(period: Period | None, zone: str) -> list[tuple[SavedReport, Table, str]]:
    panels = []
    for report in Session.scalars(sa.select(SavedReport).where(SavedReport.on_dashboard.is_(True))
                                  .order_by(SavedReport.name)):
        chosen = period or services.parse_period(report.period, None, None, zone)
        table = run_report(report, chosen)
        panels.append((report, table, json.dumps(chart_for(report, table))))
    return panels
