"""Call detail record operations (flush, never commit)."""

from __future__ import annotations

from app.calls.models import Call, CallDirection
from app.extensions import Session
from telephony.routing import lcr
from telephony.routing.services import quote_call


def price_call(call: Call, billsec: int) -> None:
    """Record what a finished call costs: ``billsec`` (answer to hang-up), and for an
    outbound call the carrier the routing sends it to first with its longest-prefix
    rate, billed by the rate's increments plus its connection fee (nothing when not
    answered). A number no carrier prices, and inbound calls (the decks price calls
    out), keep no carrier and a NULL cost: unknown, which is not free."""
    call.billsec = max(0, billsec)
    call.carrier_id = call.rate_prefix = call.rate_per_minute = call.cost = None
    if call.direction != CallDirection.OUTBOUND:
        return
    quote = quote_call(Session(), call.phone_number)
    if quote is None:
        return
    call.carrier_id = quote.carrier_id
    call.rate_prefix = quote.rate.prefix
    call.rate_per_minute = quote.rate.rate_per_minute
    call.cost = lcr.billed_cost(quote.rate, call.billsec)
