"""Large exports run by a worker: the request records a ``ReportExport`` and queues
it once committed; the page polls its state and offers the file when done."""

from __future__ import annotations

import pathlib

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.db import utcnow
from app.extensions import Session
from app.reports import exports, services
from app.reports.models import ReportExport

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
_PENDING = "report_exports_pending"


def export_dir() -> pathlib.Path:
    import os

    return pathlib.Path(os.environ.get("EXPORT_DIR") or ROOT / "var" / "exports")


def call_filters_from(params: dict, zone: str) -> services.CallFilters:
    period = services.parse_period(params.get("period"), params.get("from"), params.get("to"), zone)

    def number(name: str) -> float | None:
        value = params.get(name)
        return float(value) if value not in (None, "") else None

    def ident(name: str) -> int | None:
        value = params.get(name)
        return int(value) if value not in (None, "") else None

    return services.CallFilters(period, params.get("direction") or None, ident("campaign"), ident("agent"),
                                params.get("number") or None, number("min_s"), number("max_s"),
                                params.get("status") or None)


def queue_export(user_id: int, report: str, params: dict, file_format: str) -> ReportExport:
    export = ReportExport(user_id=user_id, report=report, params=params, file_format=file_format, state="queued")
    Session.add(export)
    Session.flush()
    Session().info.setdefault(_PENDING, []).append((export.id, export.tenant_id))
    return export


def run_export(export: ReportExport, zone: str, limit: int) -> None:
    """Build the file (CSV or XLSX; the PDF of a large selection is refused upstream)."""
    filters = call_filters_from(export.params, zone)
    table = services.calls_table(filters, limit)
    columns = [(key, str(label), kind) for key, label, kind in services.CALL_COLUMNS]
    totals, averages = services.call_footers(filters)
    body = exports.render(export.file_format, table.title, "", columns, table.rows, totals, None, averages)
    folder = export_dir() / str(export.tenant_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"export-{export.id}.{export.file_format}"
    path.write_bytes(body)
    export.path = str(path)
    export.state = "done"
    export.finished_at = utcnow()
    Session.flush()


def count_calls(filters: services.CallFilters) -> int:
    from app.calls.models import Call

    return Session.scalar(sa.select(sa.func.count()).select_from(Call).where(*services._call_conditions(filters))) or 0


@sa.event.listens_for(so.Session, "after_commit")
def _queue_committed(session: so.Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    from app.reports.tasks import export_report

    for export_id, tenant_id in pending:
        export_report.send_with_options(args=(export_id,), tenant_id=tenant_id)


@sa.event.listens_for(so.Session, "after_rollback")
def _drop_rolled_back(session: so.Session) -> None:
    session.info.pop(_PENDING, None)
