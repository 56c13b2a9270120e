"""What a finished call costs under a rate: billing increments, connection fee,
unanswered calls, rounding (telephony.routing.lcr.billed_cost)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from telephony.routing.lcr import billed_cost
from telephony.routing.ratedeck import Rate

PER_MINUTE = Decimal("0.06")  # 0.001 EUR a second: billed seconds read straight off the cost


@pytest.mark.parametrize(("initial", "following", "billsec", "billed"), [
    (60, 60, 1, 60), (60, 60, 60, 60), (60, 60, 61, 120), (60, 60, 185, 240),
    (1, 1, 1, 1), (1, 1, 61, 61), (1, 1, 185, 185),
    (30, 6, 1, 30), (30, 6, 30, 30), (30, 6, 31, 36), (30, 6, 36, 36), (30, 6, 37, 42), (30, 6, 185, 186),
])
def test_increments(initial, following, billsec, billed):
    rate = Rate("33", PER_MINUTE, Decimal(0), initial, following)
    assert billed_cost(rate, billsec) == Decimal(billed) / 1000


def test_connection_fee_is_added_to_answered_calls_only():
    rate = Rate("33", PER_MINUTE, Decimal("0.0150"), 60, 60)
    assert billed_cost(rate, 61) == Decimal("0.135")
    assert billed_cost(rate, 0) == Decimal(0)  # not answered: nothing billed, not even the fee


def test_cost_is_rounded_half_up_to_the_millionth():
    rate = Rate("33", Decimal("0.0100"), Decimal(0), 1, 1)
    assert billed_cost(rate, 61) == Decimal("0.010167")  # 0.0101666…
    assert billed_cost(rate, 61).as_tuple().exponent == -6
