"""Background jobs of the contacts feature. Actors take ids and are idempotent."""

from __future__ import annotations

import logging
from collections.abc import Callable

import dramatiq
import sqlalchemy as sa
from periodiq import cron

import app.models  # noqa: F401  (a worker loads no view: every mapper must be known)
import jobs.broker  # noqa: F401  (binds actors to the configured broker)
from app.extensions import Session
from app.leads import imports, privacy, services
from app.leads.models import ImportJob, ImportStatus
from app.leads.readers import ImportFileError
from tenants.scoping import current_tenant_id, tenant_scope

log = logging.getLogger(__name__)


class ImportNotReadyError(RuntimeError):
    """The request that queued the job has not committed yet."""


def _retry_when(retries: int, exception: BaseException) -> bool:
    # Only the enqueue-before-commit race is worth retrying: an import that failed
    # would fail the same way again, and it is all-or-nothing anyway.
    return isinstance(exception, ImportNotReadyError | imports.ImportBusyError) and retries < 20


def _run(step: Callable[[int], ImportJob | None], import_id: int, expected: tuple[str, ...]) -> None:
    tenant_id = current_tenant_id()
    try:
        imp = Session.get(ImportJob, import_id, populate_existing=True)
        if imp is None or imp.status not in expected:
            if imp is not None and imp.status in (ImportStatus.DONE, ImportStatus.FAILED):
                return
            raise ImportNotReadyError(str(import_id))
        tenant_id = tenant_id or imp.tenant_id
        step(import_id)
    except (ImportNotReadyError, imports.ImportBusyError):
        Session.rollback()
        raise
    except ImportFileError as exc:
        Session.rollback()
        imports.record_failure(import_id, tenant_id, exc.code)
    except Exception as exc:
        # whatever went wrong, the user sees a failed import rather than a progress
        # bar that never moves; the transaction is rolled back, so no lead is kept
        Session.rollback()
        if tenant_id is not None:
            imports.record_failure(import_id, tenant_id, f"{type(exc).__name__}: {exc}")
        raise


@dramatiq.actor(queue_name="imports", retry_when=_retry_when, min_backoff=300, max_backoff=5_000,
                time_limit=2 * 3600 * 1000)
def validate_import(import_id: int) -> None:
    _run(imports.validate, import_id, (ImportStatus.VALIDATING,))


@dramatiq.actor(queue_name="imports", retry_when=_retry_when, min_backoff=300, max_backoff=5_000,
                time_limit=2 * 3600 * 1000)
def run_import(import_id: int) -> None:
    # RUNNING: a worker died mid-import; nothing of it was committed, start again
    _run(imports.execute, import_id, (ImportStatus.QUEUED, ImportStatus.RUNNING))


def _tenant_ids() -> list[int]:
    from tenants.models import Tenant

    # the tenants table itself is not tenant-owned: listing ids needs no bypass
    return list(Session.scalars(sa.select(Tenant.id).order_by(Tenant.id)))


def _for_each_tenant(step: Callable[[], int], label: str) -> None:
    for tenant_id in _tenant_ids():
        with tenant_scope(tenant_id):
            count = step()
            # one transaction per tenant: a failure in one leaves the others done
            Session.commit()
        if count:
            log.info("%s: tenant %s, %s leads", label, tenant_id, count)


@dramatiq.actor(queue_name="maintenance", max_retries=0, periodic=cron("23 3 * * *"))
def purge_retention() -> None:
    """L8 retention: nightly, each tenant's leads older than its retention period."""
    _for_each_tenant(privacy.purge_expired, "retention purge")


@dramatiq.actor(queue_name="maintenance", max_retries=0, periodic=cron("*/5 * * * *"))
def recycle_leads() -> None:
    """L7 recycling rules, every five minutes; idempotent."""
    _for_each_tenant(privacy.apply_recycling, "recycling")


@dramatiq.actor(queue_name="maintenance", max_retries=0, periodic=cron("*/10 * * * *"))
def fold_list_counts() -> None:
    """Keeps the lists' count deltas short (one row per list), every ten minutes."""
    _for_each_tenant(services.fold_list_counts, "list counts folded")
