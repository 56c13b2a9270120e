"""Recording jobs: conversion (per recording, retried) and the nightly retention purge."""

from __future__ import annotations

import logging

import dramatiq
import sqlalchemy as sa
from periodiq import cron

import app.models  # noqa: F401  (a worker loads no view: every mapper must be known)
import jobs.broker  # noqa: F401  (binds actors to the configured broker)
from app.extensions import Session
from app.recordings import services
from app.recordings.audio import ConversionError
from app.recordings.storage import storage_from_config
from app.runtime import current_config
from tenants.scoping import tenant_scope

log = logging.getLogger("carillon.recordings")

CONVERSION_RETRIES = 5


class RecordingNotReadyError(RuntimeError):
    """The transaction that registered the recording has not committed yet."""


def _retry_when(retries: int, exception: BaseException) -> bool:
    if isinstance(exception, RecordingNotReadyError):
        return retries < 20
    return isinstance(exception, ConversionError) and retries < CONVERSION_RETRIES


@dramatiq.actor(queue_name="recordings", retry_when=_retry_when, min_backoff=1_000, max_backoff=300_000)
def convert_recording(recording_id: int) -> None:
    """WAV → MP3 for one recording; idempotent."""
    try:
        recording = services.convert_recording(recording_id, storage_from_config(current_config()))
    except ConversionError:
        # keep "failed" and its audit event although the job fails: the middleware
        # rolls back a failed job's transaction, and a retry may still succeed
        Session.commit()
        raise
    if recording is None:
        raise RecordingNotReadyError(str(recording_id))


def _tenant_ids() -> list[int]:
    from tenants.models import Tenant

    # the tenants table itself is not tenant-owned: listing ids needs no bypass
    return list(Session.scalars(sa.select(Tenant.id).order_by(Tenant.id)))


@dramatiq.actor(queue_name="maintenance", max_retries=0, periodic=cron("41 3 * * *"))
def purge_recordings() -> None:
    """Nightly: each tenant's recordings older than its retention period."""
    config = current_config()
    storage = storage_from_config(config)
    for tenant_id in _tenant_ids():
        with tenant_scope(tenant_id):
            count = services.purge_expired(storage, config.RECORDINGS_RETENTION_DAYS)
            Session.commit()  # one transaction per tenant
        if count:
            log.info("recordings purge: tenant %s, %d recordings", tenant_id, count)
