"""Domain events as blinker signals: features emit them, others (outgoing webhooks,
statistics) subscribe without the emitter knowing them.

Every signal is sent with ``sender`` = the emitting feature's name and two keyword
arguments: ``tenant_id`` (int) and ``payload`` (a JSON-serialisable dict describing
the object, the same shape the REST API returns). Receivers run inside the
emitter's transaction: they may add rows (flush only) but never commit.

    from app.core import signals
    signals.lead_created.send("leads", tenant_id=lead.tenant_id, payload={...})
"""

from __future__ import annotations

from blinker import Namespace

events = Namespace()

lead_created = events.signal("lead.created")
lead_status_changed = events.signal("lead.status_changed")
call_ended = events.signal("call.ended")
sale_created = events.signal("sale.created")
# internal (not offered to webhooks): a dial refused by the compliance engine, logged
dial_blocked = events.signal("dial.blocked")

BY_NAME = {signal.name: signal for signal in (lead_created, lead_status_changed, call_ended, sale_created)}
