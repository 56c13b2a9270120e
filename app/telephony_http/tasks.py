"""Kamailio routing sync: a job rewrites Kamailio's tables (LCR gateways and rules,
dispatcher, trunk credentials) from the trunks, rate decks and media nodes, then
reloads each Kamailio of ``KAMAILIO_RPC_URLS``. It is queued after every commit that
changed one of those, wherever the change came from."""

from __future__ import annotations

import logging

import dramatiq
import sqlalchemy as sa
import sqlalchemy.orm as so

import app.models  # noqa: F401  (a worker loads no view: every mapper must be known)
import jobs.broker  # noqa: F401  (binds actors to the configured broker)
from app.extensions import Session
from app.runtime import current_config
from kamailio.rpc import KamailioRpcError
from telephony.routing.models import Carrier, CarrierRate, MediaNode, Trunk
from telephony.routing.services import sync_kamailio_tables

log = logging.getLogger("carillon.kamailio")

ROUTING_MODELS = (Carrier, CarrierRate, Trunk, MediaNode)
_CHANGED = "kamailio_routing_changed"


def rpc_urls(setting: str) -> list[str]:
    return [url.strip() for url in setting.split(",") if url.strip()]


@dramatiq.actor(queue_name="routing", max_retries=8, min_backoff=2_000, max_backoff=300_000,
                retry_when=lambda retries, exc: isinstance(exc, KamailioRpcError) and retries < 8)
def sync_kamailio_routing() -> None:
    """Idempotent: the tables are rewritten from the current data each time. A
    Kamailio that does not answer makes the job retry (the rows are committed)."""
    result = sync_kamailio_tables(Session(), rpc_urls(current_config().KAMAILIO_RPC_URLS))
    log.info("kamailio routing synced: reloaded %s", ", ".join(result.reloaded) or "nothing")


@sa.event.listens_for(so.Session, "after_flush")
def _note_routing_change(session: so.Session, flush_context: object) -> None:
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, ROUTING_MODELS) for obj in touched):
        session.info[_CHANGED] = True


@sa.event.listens_for(so.Session, "after_commit")
def _queue_sync(session: so.Session) -> None:
    if session.info.pop(_CHANGED, False):
        try:
            sync_kamailio_routing.send_with_options(tenant_id=None)
        except Exception:
            # the change is committed already; failing here would report an error for a
            # saved change. Kamailio keeps its current tables until the next sync.
            log.exception("could not queue the Kamailio routing sync")


@sa.event.listens_for(so.Session, "after_rollback")
def _forget_change(session: so.Session) -> None:
    session.info.pop(_CHANGED, None)
