"""Least cost routing, without I/O: prefix matching, cost ordering and the lcr plan.

Kamailio's ``lcr`` module orders the gateways of every matching rule by prefix length,
then priority. Carriers price different prefix depths, so the plan gives each distinct
prefix of every deck its own *stopper* rule, whose targets are all carriers priced for
numbers under it, each at the rate of its own longest matching prefix, ranked by cost
(priority 0 = cheapest). For any number, the longest matching rule is then the only one
Kamailio uses, and it holds exactly the per-carrier longest-prefix rates: if a carrier
had a longer prefix matching the number, that prefix would be a longer rule.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from telephony.routing.ratedeck import Rate

# Kamailio lcr priorities go from 0 (highest) to 255.
MAX_PRIORITY = 255
# The call length the ordering prices: connection fees and first increments matter
# for short calls, so carriers are compared on the cost of a typical call.
REFERENCE_CALL_SECONDS = 60

TRANSPORT_CODES = {"udp": 1, "tcp": 2, "tls": 3}
URI_SCHEME_SIP = 1


@dataclass(frozen=True, slots=True)
class Quote:
    carrier_id: int
    rate: Rate
    cost: Decimal


@dataclass(frozen=True, slots=True)
class TrunkSpec:
    """What the plan needs of a trunk (decoupled from the ORM model)."""

    trunk_id: int
    carrier_id: int
    name: str
    host: str
    port: int
    transport: str
    channel_limit: int | None
    weight: int = 1
    strip_digits: int = 0
    tech_prefix: str = ""


@dataclass(frozen=True, slots=True)
class Gateway:
    """A row of Kamailio's lcr_gw."""

    gw_id: int
    name: str
    ip_addr: str | None
    hostname: str | None
    port: int
    transport: int
    strip: int
    prefix: str | None
    tag: str


@dataclass(frozen=True, slots=True)
class Target:
    gw_id: int
    priority: int
    weight: int


@dataclass(frozen=True, slots=True)
class Rule:
    """A row of Kamailio's lcr_rule with its lcr_rule_target rows."""

    prefix: str
    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class LcrPlan:
    gateways: tuple[Gateway, ...]
    rules: tuple[Rule, ...]


def longest_prefix_match(number: str, prefixes: Iterable[str]) -> str | None:
    """The longest of ``prefixes`` that ``number`` starts with, or None."""
    best: str | None = None
    for prefix in prefixes:
        if number.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return best


def lookup_rate(number: str, deck: Mapping[str, Rate]) -> Rate | None:
    """The deck's rate for ``number`` by longest prefix; walks the number, not the deck."""
    for length in range(min(len(number), max(map(len, deck), default=0)), 0, -1):
        rate = deck.get(number[:length])
        if rate is not None:
            return rate
    return None


def call_cost(rate: Rate, seconds: int) -> Decimal:
    """What a call of ``seconds`` costs under ``rate``: fee plus billed time."""
    if seconds <= 0:
        return rate.connection_fee
    billed = rate.initial_increment
    if seconds > rate.initial_increment:
        remainder = seconds - rate.initial_increment
        blocks = -(-remainder // rate.billing_increment)
        billed += blocks * rate.billing_increment
    return rate.connection_fee + rate.rate_per_minute * billed / 60


# What a CDR keeps of a cost: EUR to the millionth, like the rate decks' prices.
COST_QUANTUM = Decimal("0.000001")


def billed_cost(rate: Rate, billsec: int) -> Decimal:
    """What a finished call costs: nothing when it was not answered (carriers bill
    answered calls, the connection fee included), else ``call_cost`` rounded half up
    to the millionth of a euro."""
    if billsec <= 0:
        return Decimal(0).quantize(COST_QUANTUM)
    return call_cost(rate, billsec).quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


def rank_carriers(
    number: str, decks: Mapping[int, Mapping[str, Rate]], reference_seconds: int = REFERENCE_CALL_SECONDS
) -> list[Quote]:
    """The carriers priced for ``number``, cheapest first (ties: lower rate, lower id)."""
    quotes = []
    for carrier_id, deck in decks.items():
        rate = lookup_rate(number, deck)
        if rate is not None:
            quotes.append(Quote(carrier_id, rate, call_cost(rate, reference_seconds)))
    return sorted(quotes, key=lambda q: (q.cost, q.rate.rate_per_minute, q.carrier_id))


def failover_priorities(quotes: Sequence[Quote]) -> dict[int, int]:
    """Carrier id → lcr priority: equal costs share a priority (their trunks share load)."""
    priorities: dict[int, int] = {}
    rank = -1
    previous: Decimal | None = None
    for quote in quotes:
        if quote.cost != previous:
            rank += 1
            previous = quote.cost
        priorities[quote.carrier_id] = min(rank, MAX_PRIORITY)
    return priorities


def gateway_for(trunk: TrunkSpec) -> Gateway:
    """The lcr_gw row of a trunk. Its tag carries "<trunk id>:<channel limit>" (0 =
    unlimited) for kamailio.cfg's per-trunk channel check."""
    is_ip = _is_ip_address(trunk.host)
    return Gateway(
        gw_id=trunk.trunk_id,
        name=trunk.name[:128],
        ip_addr=trunk.host if is_ip else None,
        hostname=None if is_ip else trunk.host,
        port=trunk.port,
        transport=TRANSPORT_CODES[trunk.transport],
        strip=trunk.strip_digits,
        prefix=trunk.tech_prefix or None,
        tag=f"{trunk.trunk_id}:{trunk.channel_limit or 0}",
    )


def build_lcr_plan(
    decks: Mapping[int, Mapping[str, Rate]],
    trunks: Iterable[TrunkSpec],
    reference_seconds: int = REFERENCE_CALL_SECONDS,
) -> LcrPlan:
    """Gateways and rules for the given carriers' decks and their usable trunks.

    Only carriers with at least one trunk take part; a carrier's trunks all get the
    carrier's priority and share its calls by weight."""
    trunks_of: dict[int, list[TrunkSpec]] = {}
    for trunk in trunks:
        trunks_of.setdefault(trunk.carrier_id, []).append(trunk)
    routable = {carrier_id: deck for carrier_id, deck in decks.items() if trunks_of.get(carrier_id)}
    gateways = tuple(gateway_for(t) for carrier_id in sorted(routable) for t in trunks_of[carrier_id])
    rules = []
    for prefix in sorted({prefix for deck in routable.values() for prefix in deck}):
        priorities = failover_priorities(rank_carriers(prefix, routable, reference_seconds))
        targets = tuple(
            Target(trunk.trunk_id, priority, trunk.weight)
            for carrier_id, priority in sorted(priorities.items(), key=lambda item: (item[1], item[0]))
            for trunk in trunks_of[carrier_id]
        )
        rules.append(Rule(prefix, targets))
    return LcrPlan(gateways, tuple(rules))


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
