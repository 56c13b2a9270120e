"""Outgoing webhooks (I3): tenants subscribe URLs to domain events; each event becomes
one delivery per subscribed endpoint, sent by a job, signed with HMAC-SHA256.

Signature: header ``X-Carillon-Signature: t=<unix time>,v1=<hex>`` where ``v1`` is
HMAC-SHA256(secret, f"{t}.{body}"). Receivers recompute it over the raw body and
reject timestamps older than a few minutes (replays)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.api.cache import LocalCache, generation, invalidate
from app.api.models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEvent
from app.audit.services import record_event
from app.core import signals
from app.extensions import Session

SIGNATURE_HEADER = "X-Carillon-Signature"
TOLERANCE_S = 300
_PENDING = "carillon_webhook_deliveries"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, *, now: float | None = None, tolerance_s: int = TOLERANCE_S) -> bool:
    """What a receiver does; used by the tests and offered to integrators as reference."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance_s:
        return False
    expected = sign(secret, body, stamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# Every new lead asks, and most tenants have no webhook: each process answers from
# its cache, which a change of subscriptions invalidates in every process at once.
_subscriptions: LocalCache[frozenset[str]] = LocalCache()


def subscribed_events(tenant_id: int) -> frozenset[str]:
    """The events some active endpoint of the tenant listens to."""
    cached = _subscriptions.get(tenant_id)
    if cached is not None:
        return cached
    stamp = generation()
    lists = Session.scalars(sa.select(WebhookEndpoint.events).where(WebhookEndpoint.tenant_id == tenant_id,
                                                                     WebhookEndpoint.active)).all()
    events = frozenset(event for events in lists for event in events)
    _subscriptions.put(tenant_id, events, stamp)
    return events


def _subscriptions_changed(tenant_id: int) -> None:
    _subscriptions.discard(tenant_id)
    invalidate()


def create_endpoint(url: str, events: list[str], description: str = "") -> WebhookEndpoint:
    endpoint = WebhookEndpoint(url=url, events=sorted({WebhookEvent(e).value for e in events}),
                               description=description, secret=new_secret(), active=True)
    Session.add(endpoint)
    Session.flush()
    _subscriptions_changed(endpoint.tenant_id)
    record_event("webhook.created", target_type="webhook_endpoint", target_id=endpoint.id,
                 details={"url": url, "events": endpoint.events})
    return endpoint


def set_active(endpoint: WebhookEndpoint, active: bool) -> None:
    endpoint.active = active
    Session.flush()
    _subscriptions_changed(endpoint.tenant_id)
    record_event("webhook.updated", target_type="webhook_endpoint", target_id=endpoint.id,
                 details={"active": active})


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    record_event("webhook.deleted", target_type="webhook_endpoint", target_id=endpoint.id,
                 details={"url": endpoint.url})
    Session.delete(endpoint)
    Session.flush()
    _subscriptions_changed(endpoint.tenant_id)


def envelope(delivery: WebhookDelivery) -> bytes:
    return json.dumps({"id": delivery.event_id, "event": delivery.event, "created_at": delivery.created_at.isoformat(),
                       "data": delivery.payload}, separators=(",", ":"), ensure_ascii=False).encode()


def _queue_after_commit(session: so.Session, delivery: WebhookDelivery) -> None:
    session.info.setdefault(_PENDING, []).append((delivery.id, delivery.tenant_id))


def enqueue(delivery: WebhookDelivery) -> None:
    """Send the delivery once the surrounding transaction commits (the job must find it)."""
    _queue_after_commit(Session(), delivery)


def publish(event: str, tenant_id: int, payload: dict[str, Any]) -> list[WebhookDelivery]:
    if event not in subscribed_events(tenant_id):
        return []
    endpoints = Session.scalars(sa.select(WebhookEndpoint).where(
        WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.active,
        WebhookEndpoint.events.contains([event]))).all()
    deliveries = []
    event_id = str(uuid.uuid4())
    for endpoint in endpoints:
        delivery = WebhookDelivery(tenant_id=tenant_id, endpoint_id=endpoint.id, event=event, event_id=event_id,
                                   payload=payload, state=DeliveryState.PENDING)
        Session.add(delivery)
        deliveries.append(delivery)
    if deliveries:
        Session.flush()
        for delivery in deliveries:
            enqueue(delivery)
    return deliveries


def replay(delivery: WebhookDelivery) -> WebhookDelivery:
    """A new delivery of the same event (same event id, so receivers can deduplicate)."""
    copy = WebhookDelivery(tenant_id=delivery.tenant_id, endpoint_id=delivery.endpoint_id, event=delivery.event,
                           event_id=delivery.event_id, payload=delivery.payload, state=DeliveryState.PENDING)
    Session.add(copy)
    Session.flush()
    enqueue(copy)
    record_event("webhook.replayed", target_type="webhook_delivery", target_id=delivery.id)
    return copy


def _receiver(event: str):
    def receive(sender: object, *, tenant_id: int, payload: dict[str, Any], **_extra: object) -> None:
        publish(event, tenant_id, payload)

    return receive


_RECEIVERS = {name: _receiver(name) for name in signals.BY_NAME}
for _name, _signal in signals.BY_NAME.items():
    _signal.connect(_RECEIVERS[_name], weak=False)


@sa.event.listens_for(so.Session, "after_commit")
def _send_committed(session: so.Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    from app.api.tasks import deliver_webhook

    for delivery_id, tenant_id in pending:
        deliver_webhook.send_with_options(args=(delivery_id, tenant_id), tenant_id=tenant_id)


@sa.event.listens_for(so.Session, "after_rollback")
def _drop_rolled_back(session: so.Session) -> None:
    # A rollback of the whole transaction undoes the deliveries; savepoint rollbacks
    # leave the list alone (the job skips a delivery it cannot find).
    if not session.in_transaction():
        session.info.pop(_PENDING, None)
