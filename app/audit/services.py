from __future__ import annotations

from flask import g, has_request_context, request

from app.audit.models import AuditEvent
from app.extensions import Session
from tenants.scoping import current_tenant_id, unscoped


def client_ip() -> str | None:
    if not has_request_context():
        return None
    return request.remote_addr


def record_event(
    action: str,
    *,
    actor: object | None = None,
    tenant_id: int | None = None,
    target_type: str | None = None,
    target_id: object | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Append one audit event in the current transaction (flushed, not committed)."""
    if actor is None and has_request_context():
        actor = g.get("user")
    event = AuditEvent(
        tenant_id=tenant_id if tenant_id is not None else current_tenant_id(),
        actor_id=getattr(actor, "id", None),
        actor_email=getattr(actor, "email", None),
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        ip=client_ip(),
        details=details or {},
    )
    Session.add(event)
    if event.tenant_id != current_tenant_id():
        # events about another scope (a failed login, a platform action on a tenant)
        with unscoped():
            Session.flush()
    else:
        Session.flush()
    return event
