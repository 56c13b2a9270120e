"""Report jobs: the minute rollup (with the reconciliation of the wallboard's per-day
counters), the nightly
re-roll of yesterday, and exports."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import dramatiq
import sqlalchemy as sa
from periodiq import cron

import app.models  # noqa: F401  (a worker loads no view: every mapper must be known)
import jobs.broker  # noqa: F401  (binds actors to the configured broker)
from app.db import utcnow
from app.extensions import Session
from app.reports import rollup
from app.supervision.counters import reconcile
from tenants.models import Tenant
from tenants.scoping import tenant_scope

log = logging.getLogger(__name__)


def _tenants() -> list[tuple[int, str]]:
    # the tenants table itself is not tenant-owned: listing them needs no bypass
    rows = Session.execute(sa.select(Tenant.id, Tenant.timezone).where(Tenant.status != "suspended")
                           .order_by(Tenant.id)).all()
    Session.rollback()
    return [(tenant_id, zone or "Europe/Paris") for tenant_id, zone in rows]


def roll_tenant(tenant_id: int, zone: str, now: dt.datetime) -> None:
    with tenant_scope(tenant_id):
        rollup.rollup_recent(now, zone)
        reconcile(tenant_id, now, zone)
        Session.commit()


@dramatiq.actor(queue_name="reports", max_retries=0, periodic=cron("* * * * *"), time_limit=55_000)
def rollup_minute() -> None:
    """Every minute, per tenant: the current and previous hour, today, and the
    reconciliation of the wallboard's day counters (the call events keep them)."""
    now = utcnow()
    for tenant_id, zone in _tenants():
        try:
            roll_tenant(tenant_id, zone, now)
        except Exception:
            # one tenant's failure leaves the others rolled
            Session.rollback()
            log.exception("rollup failed for tenant %s", tenant_id)


@dramatiq.actor(queue_name="reports", max_retries=3, periodic=cron("40 2 * * *"), time_limit=1_800_000)
def rollup_yesterday() -> None:
    """Nightly: yesterday again in full (late dispositions, a missed minute)."""
    now = utcnow()
    for tenant_id, zone in _tenants():
        yesterday = now.astimezone(ZoneInfo(zone)).date() - dt.timedelta(days=1)
        with tenant_scope(tenant_id):
            rollup.rollup_range(yesterday, yesterday, zone)
            Session.commit()


@dramatiq.actor(queue_name="reports", max_retries=3, time_limit=1_800_000)
def export_report(export_id: int) -> None:
    """A large report export (the job edge commits; a failure marks the export failed)."""
    from app.reports import background
    from app.reports.models import ReportExport
    from app.reports.services import EXPORT_ROW_LIMIT

    export = Session.get(ReportExport, export_id)
    if export is None or export.state == "done":
        return
    zone = Session.scalar(sa.select(Tenant.timezone).where(Tenant.id == export.tenant_id)) or "Europe/Paris"
    try:
        background.run_export(export, zone, EXPORT_ROW_LIMIT)
    except Exception as exc:
        Session.rollback()
        export = Session.get(ReportExport, export_id)
        if export is not None:
            export.state = "failed"
            export.error = f"{type(exc).__name__}: {exc}"
            Session.commit()
        raise
