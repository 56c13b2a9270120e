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
from telephony.routing.ratedeck import MAX_PREFIX_DIGITS, Rate, parse_rate_deck

# The lcr instance and dispatcher set kamailio.cfg uses (its LCR_ID and MEDIA_SETID).
LCR_ID = 1
MEDIA_SETID = 1
# One lock id for every writer of Kamailio's tables, so two syncs never interleave.
SYNC_LOCK_ID = 0x4B414D4C  # "KAML"
RELOAD_PATIENCE_S = 6.0
# The hash table kamailio.cfg loads the trunks' credentials into (from kamailio.htable).
TRUNK_AUTH_HTABLE = "trunkauth"


@dataclass(frozen=True, slots=True)
class SyncResult:
    gateways: int
    rules: int
    targets: int
    media_nodes: int
    credentials: int
    lcr_changed: bool
    dispatcher_changed: bool
    credentials_changed: bool
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


def quote_call(session: so.Session, number: str) -> lcr.Quote | None:
    """The carrier a call to ``number`` goes to first, with the rate it pays: the
    cheapest routable carrier as the lcr plan ranks them (``lcr.rank_carriers``), each
    at its own longest matching prefix; None when no routable carrier prices the number.

    Reads only the rates under the number's prefixes (indexed), not whole decks: it runs
    at every call's end."""
    digits = number.removeprefix("+")
    if not digits.isdigit():
        return None
    prefixes = [digits[:length] for length in range(1, min(len(digits), MAX_PREFIX_DIGITS) + 1)]
    routable = sa.select(Trunk.carrier_id).where(Trunk.enabled.is_(True))
    rows = session.execute(
        sa.select(CarrierRate)
        .join(Carrier)
        .where(CarrierRate.prefix.in_(prefixes), Carrier.enabled.is_(True), CarrierRate.carrier_id.in_(routable))
    ).scalars()
    decks: dict[int, dict[str, Rate]] = {}
    for row in rows:
        decks.setdefault(row.carrier_id, {})[row.prefix] = Rate(
            row.prefix, row.rate_per_minute, row.connection_fee, row.initial_increment, row.billing_increment
        )
    quotes = lcr.rank_carriers(digits, decks)
    return quotes[0] if quotes else None


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


def trunk_auth_rows(trunks: Sequence[Trunk]) -> list[dict[str, object]]:
    """kamailio.htable rows with the digest credentials of trunks that have them; the
    carrier's challenge is answered with them (uac_auth in kamailio.cfg)."""
    rows: list[dict[str, object]] = []
    for trunk in trunks:
        if trunk.username and trunk.password:
            for field, value in (("username", trunk.username), ("password", trunk.password)):
                rows.append(
                    {"key_name": f"{trunk.id}:{field}", "key_value": value, "key_type": 0, "value_type": 0}
                )
    return rows


def write_kamailio_tables(session: so.Session) -> SyncResult:
    """Rewrite Kamailio's lcr, dispatcher and trunk credential rows from the
    application's data (flush only).

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
    media_set = kt.dispatcher.c.setid == MEDIA_SETID
    dispatcher_before = _snapshot(session, kt.dispatcher, media_set)
    media_rows = dispatcher_rows(nodes)
    _replace_rows(session, kt.dispatcher, media_rows, media_set)
    credentials_before = _snapshot(session, kt.htable)
    usable = {t.trunk_id for t in load_trunks(session)}
    trunks = session.scalars(sa.select(Trunk).where(Trunk.id.in_(usable)).order_by(Trunk.id)).all()
    credential_rows = trunk_auth_rows(trunks)
    _replace_rows(session, kt.htable, credential_rows)
    session.flush()
    return SyncResult(
        gateways=len(plan.gateways),
        rules=len(plan.rules),
        targets=sum(len(rule.targets) for rule in plan.rules),
        media_nodes=len(media_rows),
        credentials=len(credential_rows) // 2,
        lcr_changed=_lcr_snapshot(session) != lcr_before,
        dispatcher_changed=_snapshot(session, kt.dispatcher, media_set) != dispatcher_before,
        credentials_changed=_snapshot(session, kt.htable) != credentials_before,
    )


def sync_kamailio_tables(session: so.Session, rpc_urls: Sequence[str] = ()) -> SyncResult:
    """Rewrite Kamailio's tables in one transaction, commit, then make each Kamailio
    (its JSON-RPC URLs, e.g. ``http://127.0.0.1:5071/RPC``) reload what changed.

    A Kamailio that cannot be reached raises ``KamailioRpcError`` after the commit: the
    rows are in place and it loads them when it starts or on the next reload."""
    result = write_kamailio_tables(session)
    session.commit()
    commands = reload_commands(result)
    for url in rpc_urls:
        for method, *params in commands:
            call_reload(url, method, *params)
    return dataclasses.replace(result, reloaded=tuple(c[0] for c in commands) if rpc_urls else ())


def reload_commands(result: SyncResult) -> list[tuple[str, ...]]:
    """The RPC commands (method, params...) that make Kamailio load what changed."""
    commands: list[tuple[str, ...]] = []
    if result.lcr_changed:
        commands.append(("lcr.reload",))
    if result.dispatcher_changed:
        commands.append(("dispatcher.reload",))
    if result.credentials_changed:
        commands.append(("htable.reload", TRUNK_AUTH_HTABLE))
    return commands


def call_reload(url: str, method: str, *params: str, patience_s: float = RELOAD_PATIENCE_S) -> None:
    """Run a reload command, waiting out the "Ongoing reload" refusal that dispatcher
    gives within its reload_delta (5 s by default) of the previous reload."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            rpc.call(url, method, *params)
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


def _snapshot(
    session: so.Session, table: sa.Table, where: sa.ColumnElement[bool] | None = None
) -> list[tuple[object, ...]]:
    """The rows without their serial ids, in a stable order."""
    query = sa.select(*[c for c in table.c if c.name != "id"])
    if where is not None:
        query = query.where(where)
    return sorted(tuple(row) for row in session.execute(query))


def _replace_rows(
    session: so.Session,
    table: sa.Table,
    rows: list[dict[str, object]],
    where: sa.ColumnElement[bool] | None = None,
) -> None:
    """Swap the application's rows of ``table`` (all of them, or those ``where`` selects)."""
    delete = sa.delete(table)
    session.execute(delete if where is None else delete.where(where))
    if rows:
        session.execute(sa.insert(table), rows)


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
