"""Jobs of the public APIs: webhook deliveries, retried with exponential backoff."""

from __future__ import annotations

import datetime as dt

import dramatiq
import requests
import sqlalchemy as sa
from periodiq import cron

import jobs.broker  # noqa: F401  (binds actors to the configured broker)
from app.api import webhooks
from app.api.models import DeliveryState, IdempotencyRecord, WebhookDelivery
from app.db import utcnow
from app.extensions import Session
from tenants.scoping import current_tenant_id, set_tenant, unscoped

MAX_ATTEMPTS = 8
IDEMPOTENCY_RETENTION = dt.timedelta(hours=24)  # how long a retry gets the stored answer
TIMEOUT_S = 10
USER_AGENT = "Carillon-Webhooks/1"


class DeliveryFailed(RuntimeError):
    """The endpoint did not answer 2xx: raised so that Dramatiq retries with backoff."""


def attempt(delivery: WebhookDelivery) -> bool:
    """POST the delivery once; record the outcome on it (flush only)."""
    body = webhooks.envelope(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Carillon-Event": delivery.event,
        "X-Carillon-Delivery": str(delivery.id),
        "X-Carillon-Event-Id": delivery.event_id,
        webhooks.SIGNATURE_HEADER: webhooks.sign(delivery.endpoint.secret, body),
    }
    delivery.attempts += 1
    try:
        response = requests.post(delivery.endpoint.url, data=body, headers=headers, timeout=TIMEOUT_S,
                                 allow_redirects=False)
        delivery.last_status_code = response.status_code
        delivery.last_error = None if response.ok else response.text[:500]
        ok = 200 <= response.status_code < 300
    except requests.RequestException as error:
        delivery.last_status_code = None
        delivery.last_error = f"{type(error).__name__}: {error}"[:500]
        ok = False
    if ok:
        delivery.state = DeliveryState.DELIVERED
        delivery.delivered_at = utcnow()
    else:
        delivery.state = DeliveryState.FAILED if delivery.attempts >= MAX_ATTEMPTS else DeliveryState.RETRYING
    Session.flush()
    return ok


@dramatiq.actor(queue_name="webhooks", max_retries=MAX_ATTEMPTS, min_backoff=1_000, max_backoff=3_600_000)
def deliver_webhook(delivery_id: int, tenant_id: int) -> None:
    """One attempt per run; a failure raises so that Dramatiq runs it again later
    (backoff doubling from 1 s up to an hour), until MAX_ATTEMPTS attempts. The job
    edge (``jobs.broker``) sets the tenant and ends the session."""
    if current_tenant_id() != tenant_id:
        set_tenant(tenant_id)  # enqueued without a tenant in scope (replays from the CLI)
    delivery = Session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.state in (DeliveryState.DELIVERED, DeliveryState.FAILED):
        return
    if not delivery.endpoint.active:
        delivery.state = DeliveryState.FAILED
        delivery.last_error = "endpoint disabled"
        return
    ok = attempt(delivery)
    # committed here, not by the job edge: a failed attempt raises, and the edge
    # would roll the attempt's record back
    Session.commit()
    if not ok and delivery.state != DeliveryState.FAILED:
        raise DeliveryFailed(f"webhook delivery {delivery_id}: attempt {delivery.attempts} failed")


@dramatiq.actor(queue_name="default", periodic=cron("17 * * * *"), max_retries=0)
def purge_idempotency_records() -> int:
    """Stored answers older than the retention are dropped, for every tenant at
    once (a housekeeping pass, hence unscoped)."""
    with unscoped():
        result = Session.execute(sa.delete(IdempotencyRecord).where(
            IdempotencyRecord.created_at < utcnow() - IDEMPOTENCY_RETENTION))
        Session.commit()
    return result.rowcount or 0
