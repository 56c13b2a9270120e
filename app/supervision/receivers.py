"""Reactions to other features' signals (connected when the models load, so in every
process: web, workers, dialer)."""

from __future__ import annotations

import datetime as dt
import uuid

from app.core import signals
from app.extensions import Session
from app.supervision import counters


@signals.call_ended.connect
def _count_ended_call(sender: object, *, tenant_id: int, payload: dict, **_: object) -> None:
    """An ended call moves its day's wallboard counters once its transaction commits."""
    from app.calls.models import Call

    try:
        call_id = uuid.UUID(str(payload.get("id")))
    except ValueError:  # not a CDR's payload: nothing to count
        return
    call = Session.get(Call, call_id)
    if call is None:
        return
    zone = _zone(tenant_id)
    fields = counters.call_fields(call.campaign_id, call.agent_id, answered=call.answered_at is not None,
                                  machine=bool(call.is_machine), abandoned=call.abandoned,
                                  sale=counters.is_sale(call.campaign_id, call.disposition))
    if fields:
        counters.count_after_commit(Session(), tenant_id, counters.local_day(call.started_at, zone), fields)


@signals.dial_blocked.connect
def _count_block(sender: object, *, tenant_id: int, payload: dict, **_: object) -> None:
    """A logged compliance block moves its day's wallboard counter once committed."""
    blocked_at = dt.datetime.fromisoformat(payload["blocked_at"])
    counters.count_after_commit(Session(), tenant_id, counters.local_day(blocked_at, _zone(tenant_id)),
                                counters.block_fields(int(payload["campaign_id"])))


def _zone(tenant_id: int) -> str:
    from tenants.models import Tenant

    tenant = Session.get(Tenant, tenant_id)
    return (tenant.timezone if tenant is not None else None) or counters.DEFAULT_ZONE
