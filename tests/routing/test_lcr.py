from decimal import Decimal

import pytest

from telephony.routing.lcr import (
    Gateway,
    Target,
    TrunkSpec,
    build_lcr_plan,
    call_cost,
    failover_priorities,
    gateway_for,
    longest_prefix_match,
    lookup_rate,
    rank_carriers,
)
from telephony.routing.ratedeck import Rate

CHEAP = 1
MOBILE_SPECIALIST = 2
EXPENSIVE = 3


def deck(*rates: tuple[str, str]) -> dict[str, Rate]:
    return {prefix: Rate(prefix, Decimal(price)) for prefix, price in rates}


DECKS = {
    CHEAP: deck(("33", "0.010"), ("336", "0.050")),
    MOBILE_SPECIALIST: deck(("33", "0.020"), ("336", "0.030"), ("3367", "0.025")),
    EXPENSIVE: deck(("3", "0.100")),
}


def trunk(trunk_id: int, carrier_id: int, **overrides: object) -> TrunkSpec:
    values: dict[str, object] = {
        "trunk_id": trunk_id,
        "carrier_id": carrier_id,
        "name": f"t{trunk_id}",
        "host": "192.0.2.10",
        "port": 5060,
        "transport": "udp",
        "channel_limit": None,
    }
    values.update(overrides)
    return TrunkSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "expected"),
    [("33123", "33"), ("33612", "336"), ("336", "336"), ("44123", None), ("3", None)],
)
def test_longest_prefix_match(number: str, expected: str | None) -> None:
    assert longest_prefix_match(number, ["33", "336", "3361x"]) == expected


def test_lookup_rate_agrees_with_longest_prefix_match() -> None:
    rates = DECKS[MOBILE_SPECIALIST]
    for number in ("33123", "33612", "33671", "3367", "34", ""):
        expected = longest_prefix_match(number, rates)
        found = lookup_rate(number, rates)
        assert (found.prefix if found else None) == expected


def test_call_cost_bills_increments_and_fee() -> None:
    rate = Rate("33", Decimal("0.60"), Decimal("0.05"), 30, 6)

    assert call_cost(rate, 0) == Decimal("0.05")
    assert call_cost(rate, 10) == Decimal("0.05") + Decimal("0.30")  # first 30 s block
    assert call_cost(rate, 31) == Decimal("0.05") + Decimal("0.36")  # 30 s + one 6 s block
    assert call_cost(rate, 60) == Decimal("0.05") + Decimal("0.60")


def test_rank_carriers_cheapest_first_by_each_carriers_longest_prefix() -> None:
    fixed = rank_carriers("33123456789", DECKS)
    mobile = rank_carriers("33712345678", DECKS)
    orange_range = rank_carriers("33612345678", DECKS)

    assert [q.carrier_id for q in fixed] == [CHEAP, MOBILE_SPECIALIST, EXPENSIVE]
    assert [q.carrier_id for q in orange_range] == [MOBILE_SPECIALIST, CHEAP, EXPENSIVE]
    assert [q.rate.prefix for q in orange_range] == ["336", "336", "3"]
    assert [q.carrier_id for q in mobile] == [CHEAP, MOBILE_SPECIALIST, EXPENSIVE]
    assert rank_carriers("44123", DECKS) == []


def test_connection_fee_can_outweigh_a_lower_rate() -> None:
    decks = {
        1: {"33": Rate("33", Decimal("0.010"), Decimal("0.05"))},
        2: {"33": Rate("33", Decimal("0.020"), Decimal("0"))},
    }

    assert [q.carrier_id for q in rank_carriers("331", decks)] == [2, 1]


def test_equal_costs_share_a_priority() -> None:
    decks = {1: deck(("33", "0.01")), 2: deck(("33", "0.01")), 3: deck(("33", "0.02"))}

    assert failover_priorities(rank_carriers("331", decks)) == {1: 0, 2: 0, 3: 1}


def test_gateway_row_for_ip_and_hostname_trunks() -> None:
    by_ip = gateway_for(
        trunk(7, CHEAP, channel_limit=30, transport="tcp", strip_digits=2, tech_prefix="0033")
    )
    by_name = gateway_for(trunk(8, CHEAP, host="sbc.carrier.example"))

    assert by_ip == Gateway(7, "t7", "192.0.2.10", None, 5060, 2, 2, "0033", "7:30")
    assert (by_name.ip_addr, by_name.hostname, by_name.tag, by_name.prefix) == (
        None,
        "sbc.carrier.example",
        "8:0",
        None,
    )


def test_plan_has_one_stopper_rule_per_prefix_with_targets_in_cost_order() -> None:
    trunks = [
        trunk(10, CHEAP),
        trunk(11, CHEAP, weight=3),
        trunk(20, MOBILE_SPECIALIST),
        trunk(30, EXPENSIVE),
    ]

    plan = build_lcr_plan(DECKS, trunks)

    assert [g.gw_id for g in plan.gateways] == [10, 11, 20, 30]
    rules = {rule.prefix: rule.targets for rule in plan.rules}
    assert sorted(rules) == ["3", "33", "336", "3367"]
    assert rules["3"] == (Target(30, 0, 1),)
    assert rules["33"] == (Target(10, 0, 1), Target(11, 0, 3), Target(20, 1, 1), Target(30, 2, 1))
    assert rules["336"] == (Target(20, 0, 1), Target(10, 1, 1), Target(11, 1, 3), Target(30, 2, 1))
    # 3367: the specialist's own prefix; the others at their longest prefix (336, 3).
    assert rules["3367"] == (Target(20, 0, 1), Target(10, 1, 1), Target(11, 1, 3), Target(30, 2, 1))


def test_carriers_without_a_usable_trunk_are_left_out() -> None:
    plan = build_lcr_plan(DECKS, [trunk(20, MOBILE_SPECIALIST)])

    assert [g.gw_id for g in plan.gateways] == [20]
    assert sorted(rule.prefix for rule in plan.rules) == ["33", "336", "3367"]
    assert all(target.gw_id == 20 for rule in plan.rules for target in rule.targets)


def test_no_trunks_no_plan() -> None:
    plan = build_lcr_plan(DECKS, [])

    assert plan.gateways == () and plan.rules == ()
