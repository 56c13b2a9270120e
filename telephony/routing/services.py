"""Routing operations: rate deck import, least cost quotes, and Kamailio's tables.

Functions here flush and never commit, except ``sync_kamailio_tables``: Kamailio reads
its tables over its own connection, so the rows must be committed before it is asked
to reload them; that function is meant to be called at a job's edge.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.db import utcnow
from kamailio import rpc
from kamailio import tables as kt
from telephony.routing import lcr
from telephony.routing.models import Carrier, CarrierRate, MediaNode, Trunk
from telephony.routing.ratedeck import Rate, parse_rate_deck

# The lcr instance and dispatcher set kamailio.cfg uses (its LCR_ID and MEDIA_SETID).
LCR_ID = 1
MEDIA_SETID = 1
# One lock id for every writer of Kamailio's tables, so two syncs never interleave.
SYNC_LOCK_ID = 0x4B414D4C  # "KAML"
RELOAD_PATIENCE_S = 6.0


@dataclass(frozen=True, slots=True)
class SyncResult:
    gateways: int
    rules: int
    targets: int
    media_nodes: int
    lcr_changed: bool
    dispatcher_changed: bool
    reloaded: tuple[str, ...] = ()


def import_rate_deck(session: so.Session, carrier: Carrier, csv_text: str) -> int:
    """Replace ``carrier``'s rate deck with the CSV's; nothing changes if a row is bad
    (``RateDeckError`` lists them all). Returns the number of rates."""
    rates = parse_rate_deck(csv_text)
    session.execute(sa.delete(CarrierRate).where(CarrierRate.carrier_id == carrier.id))
    session.add_all(
        CarrierRate(
            carrier_id=carrier.id,
            prefix=rate.prefix,
            rate_per_minute=rate.rate_per_minute,
            connection_fee=rate.connection_fee,
            initial_increment=rate.initial_increment,
            billing_increment=rate.billing_increment,
        )
        for rate in rates
    )
    carrier.rates_updated_at = utcnow()
    session.flush()
    return len(rates)


def load_decks(session: so.Session) -> dict[int, dict[str, Rate]]:
    """Every enabled carrier's deck, by carrier id then prefix."""
    rows = session.execute(
        sa.select(CarrierRate).join(Carrier).where(Carrier.enabled.is_(True)).order_by(CarrierRate.id)
    ).scalars()
    decks: dict[int, dict[str, Rate]] = {}
    for row in rows:
        decks.setdefault(row.carrier_id, {})[row.prefix] = Rate(
            row.prefix, row.rate_per_minute, row.connection_fee, row.initial_increment, row.billing_increment
        )
    return decks


def load_trunks(session: so.Session) -> list[lcr.TrunkSpec]:
    """The trunks calls may use: enabled, of an enabled carrier."""
    rows = session.execute(
        sa.select(Trunk)
        .join(Carrier)
        .where(Trunk.enabled.is_(True), Carrier.enabled.is_(True))
        .order_by(Trunk.carrier_id, Trunk.id)
    ).scalars()
    return [
        lcr.TrunkSpec(
            trunk_id=t.id,
            carrier_id=t.carrier_id,
            name=t.name,
            host=t.host,
            port=t.port,
            transport=t.transport,
            channel_limit=t.channel_limit,
            weight=t.weight,
            strip_digits=t.strip_digits,
            tech_prefix=t.tech_prefix,
        )
        for t in rows
    ]


def quote_number(session: so.Session, number: str) -> list[lcr.Quote]:
    """The carriers able to take a call to ``number`` (E.164, '+' optional), cheapest first."""
    routable = {t.carrier_id for t in load_trunks(session)}
    decks = {cid: deck for cid, deck in load_decks(session).items() if cid in routable}
    return lcr.rank_carriers(number.removeprefix("+"), decks)


def dispatcher_rows(nodes: Sequence[MediaNode], setid: int = MEDIA_SETID) -> list[dict[str, object]]:
    """kamailio.dispatcher rows for the media nodes (the weight drives hash algorithms)."""
    rows = []
    for node in nodes:
        destination = f"sip:{node.host}:{node.sip_port}"
        if node.transport != "udp":
            destination += f";transport={node.transport}"
        rows.append(
            {
                "setid": setid,
                "destination": destination,
                "flags": 0,
                "priority": 0,
                "attrs": f"weight={node.weight}",
                "description": node.name[:64],
            }
        )
    return rows


def write_kamailio_tables(session: so.Session) -> SyncResult:
    """Rewrite Kamailio's lcr and dispatcher rows from the application's data (flush only).

    The result says which sets of tables actually changed, so that Kamailio reloads only
    those (dispatcher refuses reloads closer than its reload_delta)."""
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(SYNC_LOCK_ID)))
    plan = lcr.build_lcr_plan(load_decks(session), load_trunks(session))
    nodes = (
        session.execute(sa.select(MediaNode).where(MediaNode.enabled.is_(True)).order_by(MediaNode.id))
        .scalars()
        .all()
    )
    lcr_before = _lcr_snapshot(session)
    _replace_lcr_rows(session, plan)
    dispatcher_before = _dispatcher_snapshot(session)
    session.execute(sa.delete(kt.dispatcher).where(kt.dispatcher.c.setid == MEDIA_SETID))
    media_rows = dispatcher_rows(nodes)
    if media_rows:
        session.execute(sa.insert(kt.dispatcher), media_rows)
    session.flush()
    return SyncResult(
        gateways=len(plan.gateways),
        rules=len(plan.rules),
        targets=sum(len(rule.targets) for rule in plan.rules),
        media_nodes=len(media_rows),
        lcr_changed=_lcr_snapshot(session) != lcr_before,
        dispatcher_changed=_dispatcher_snapshot(session) != dispatcher_before,
    )


def sync_kamailio_tables(session: so.Session, rpc_urls: Sequence[str] = ()) -> SyncResult:
    """Rewrite Kamailio's tables in one transaction, commit, then make each Kamailio
    (its JSON-RPC URLs, e.g. ``http://127.0.0.1:5071/RPC``) reload what changed.

    A Kamailio that cannot be reached raises ``KamailioRpcError`` after the commit: the
    rows are in place and it loads them when it starts or on the next reload."""
    result = write_kamailio_tables(session)
    session.commit()
    methods = reload_methods(result)
    for url in rpc_urls:
        for method in methods:
            call_reload(url, method)
    return dataclasses.replace(result, reloaded=methods if rpc_urls else ())


def reload_methods(result: SyncResult) -> tuple[str, ...]:
    return (("lcr.reload",) if result.lcr_changed else ()) + (
        ("dispatcher.reload",) if result.dispatcher_changed else ()
    )


def call_reload(url: str, method: str, patience_s: float = RELOAD_PATIENCE_S) -> None:
    """Run a reload command, waiting out the "Ongoing reload" refusal that dispatcher
    gives within its reload_delta (5 s by default) of the previous reload."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            rpc.call(url, method)
            return
        except rpc.KamailioRpcError as error:
            if "Ongoing reload" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.25)


def _lcr_snapshot(session: so.Session) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for table in (kt.lcr_gw, kt.lcr_rule, kt.lcr_rule_target):
        query = sa.select(table).where(table.c.lcr_id == LCR_ID).order_by(table.c.id)
        rows.extend((table.name, *row) for row in session.execute(query))
    return rows


def _dispatcher_snapshot(session: so.Session) -> list[tuple[object, ...]]:
    columns = [c for c in kt.dispatcher.c if c.name != "id"]
    query = sa.select(*columns).where(kt.dispatcher.c.setid == MEDIA_SETID)
    return sorted(tuple(row) for row in session.execute(query))


def _replace_lcr_rows(session: so.Session, plan: lcr.LcrPlan) -> None:
    for table in (kt.lcr_rule_target, kt.lcr_rule, kt.lcr_gw):
        session.execute(sa.delete(table).where(table.c.lcr_id == LCR_ID))
    if plan.gateways:
        session.execute(sa.insert(kt.lcr_gw), [_gateway_row(gw) for gw in plan.gateways])
    rule_rows, target_rows = _rule_rows(plan.rules)
    if rule_rows:
        session.execute(sa.insert(kt.lcr_rule), rule_rows)
    if target_rows:
        session.execute(sa.insert(kt.lcr_rule_target), target_rows)
    # Rows carry explicit ids (gateway id = trunk id, for readable Kamailio logs); keep
    # the sequences ahead of them for anyone inserting by hand.
    for table in (kt.lcr_gw, kt.lcr_rule, kt.lcr_rule_target):
        _advance_sequence(session, table)


def _gateway_row(gw: lcr.Gateway) -> dict[str, object]:
    return {
        "id": gw.gw_id,
        "lcr_id": LCR_ID,
        "gw_name": gw.name,
        "ip_addr": gw.ip_addr,
        "hostname": gw.hostname,
        "port": gw.port,
        "params": None,
        "uri_scheme": lcr.URI_SCHEME_SIP,
        "transport": gw.transport,
        "strip": gw.strip,
        "prefix": gw.prefix,
        "tag": gw.tag,
        "flags": 0,
        "defunct": None,
    }


def _rule_rows(rules: Sequence[lcr.Rule]) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    rule_rows: list[dict[str, object]] = []
    target_rows: list[dict[str, object]] = []
    for rule_id, rule in enumerate(rules, start=1):
        # Stopper: the longest matching prefix alone decides (see telephony.routing.lcr).
        rule_rows.append({"id": rule_id, "lcr_id": LCR_ID, "prefix": rule.prefix, "stopper": 1, "enabled": 1})
        first_target_id = len(target_rows) + 1
        target_rows.extend(
            {
                "id": first_target_id + index,
                "lcr_id": LCR_ID,
                "rule_id": rule_id,
                "gw_id": target.gw_id,
                "priority": target.priority,
                "weight": target.weight,
            }
            for index, target in enumerate(rule.targets)
        )
    return rule_rows, target_rows


def _advance_sequence(session: so.Session, table: sa.Table) -> None:
    session.execute(
        sa.text(
            "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
            f"GREATEST((SELECT max(id) FROM {table.fullname}), 1))"
        ),
        {"table": table.fullname},
    )
