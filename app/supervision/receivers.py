"""Reactions to other features' signals (connected when the models load, so in every
process: web, workers, dialer)."""

from __future__ import annotations

import uuid

from app.core import signals
from app.extensions import Session
from app.supervision import counters


@signals.call_ended.connect
def _count_ended_call(sender: object, *, tenant_id: int, payload: dict, **_: object) -> None:
    """An ended call moves its day's wallboard counters once its transaction commits."""
    from app.calls.models import Call
    from tenants.models import Tenant

    try:
        call_id = uuid.UUID(str(payload.get("id")))
    except ValueError:  # not a CDR's payload: nothing to count
        return
    call = Session.get(Call, call_id)
    if call is None:
        return
    tenant = Session.get(Tenant, tenant_id)
    zone = (tenant.timezone if tenant is not None else None) or counters.DEFAULT_ZONE
    fields = counters.call_fields(call.campaign_id, call.agent_id, answered=call.answered_at is not None,
                                  machine=bool(call.is_machine), abandoned=call.abandoned,
                                  sale=counters.is_sale(call.campaign_id, call.disposition))
    if fields:
        counters.count_after_commit(Session(), tenant_id, counters.local_day(call.started_at, zone), fields)
