"""Kamailio's tables on real PostgreSQL: the DDL matches the SQL Kamailio ships, and the
routing services fill them (no Kamailio process needed)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
import sqlalchemy.orm as so

from kamailio import tables as kt
from telephony.routing import services
from telephony.routing.models import Carrier, CarrierRate, MediaNode, Trunk
from telephony.routing.ratedeck import RateDeckError
from tests.integration.kamailio_support import harness

SHIPPED_SQL = Path("/usr/share/kamailio/postgres")
SHIPPED_FILES = ("standard", "lcr", "dispatcher", "auth_db", "htable")


@pytest.fixture(scope="module")
def database() -> Iterator[harness.ThrowawayDatabase]:
    with harness.throwaway_database() as database:
        engine = sa.create_engine(database.owner_url)
        try:
            harness.create_routing_tables(engine)
        finally:
            engine.dispose()
        yield database


@pytest.fixture
def session(database: harness.ThrowawayDatabase) -> Iterator[so.Session]:
    engine = sa.create_engine(database.owner_url)
    with so.Session(engine) as session:
        yield session
        session.rollback()
        for name in reversed(harness.ROUTING_TABLES):
            session.execute(sa.text(f"DELETE FROM {name}"))
        for table in (kt.lcr_rule_target, kt.lcr_rule, kt.lcr_gw, kt.dispatcher, kt.htable):
            session.execute(sa.delete(table))
        session.commit()
    engine.dispose()


@pytest.mark.skipif(not SHIPPED_SQL.is_dir(), reason="needs the Debian kamailio package's SQL files")
def test_schema_matches_the_sql_kamailio_ships(database: harness.ThrowawayDatabase) -> None:
    dsn = database.owner_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS shipped CASCADE; CREATE SCHEMA shipped")
        connection.execute("SET search_path = shipped")
        for name in SHIPPED_FILES:
            connection.execute((SHIPPED_SQL / f"{name}-create.sql").read_text())  # type: ignore[arg-type]
        try:
            assert _describe(connection, "kamailio") == _describe(connection, "shipped")
        finally:
            connection.execute("DROP SCHEMA shipped CASCADE")


def _describe(connection: psycopg.Connection, schema: str) -> dict[str, object]:
    columns = connection.execute(
        "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, "
        "replace(column_default, %s, '') FROM information_schema.columns WHERE table_schema = %s "
        "ORDER BY table_name, ordinal_position",
        (f"{schema}.", schema),
    ).fetchall()
    indexes = connection.execute(
        "SELECT tablename, indexname, replace(indexdef, %s, '') FROM pg_indexes WHERE schemaname = %s "
        "ORDER BY tablename, indexname",
        (f"{schema}.", schema),
    ).fetchall()
    versions = connection.execute(
        f"SELECT table_name, table_version FROM {schema}.version ORDER BY table_name"  # type: ignore[arg-type]
    ).fetchall()
    return {"columns": columns, "indexes": indexes, "versions": versions}


def _carrier(session: so.Session, name: str, deck: str, port: int, **trunk: object) -> Carrier:
    carrier = Carrier(name=name)
    carrier.trunks.append(Trunk(name=f"{name}-sbc", host="192.0.2.1", port=port, **trunk))
    session.add(carrier)
    session.flush()
    services.import_rate_deck(session, carrier, deck)
    return carrier


def test_bad_deck_writes_nothing_and_keeps_the_previous_deck(session: so.Session) -> None:
    carrier = _carrier(session, "alpha", "prefix,rate_per_minute\n33,0.01\n", 5060)

    with pytest.raises(RateDeckError) as caught:
        services.import_rate_deck(session, carrier, "prefix,rate_per_minute\n34,0.01\n35,x\n")

    assert [error.line for error in caught.value.errors] == [3]
    prefixes = session.scalars(
        sa.select(CarrierRate.prefix).where(CarrierRate.carrier_id == carrier.id)
    ).all()
    assert prefixes == ["33"]


def test_new_deck_replaces_the_old_one(session: so.Session) -> None:
    carrier = _carrier(session, "alpha", "prefix,rate_per_minute\n33,0.01\n", 5060)

    count = services.import_rate_deck(session, carrier, "prefix,rate_per_minute\n34,0.02\n35,0.03\n")

    assert count == 2
    rates = session.execute(
        sa.select(CarrierRate.prefix, CarrierRate.rate_per_minute).where(CarrierRate.carrier_id == carrier.id)
    ).all()
    assert sorted(rates) == [("34", Decimal("0.020000")), ("35", Decimal("0.030000"))]
    assert carrier.rates_updated_at is not None


def test_sync_writes_lcr_and_dispatcher_rows(session: so.Session) -> None:
    alpha = _carrier(
        session,
        "alpha",
        "prefix,rate_per_minute\n33,0.01\n336,0.05\n",
        5060,
        channel_limit=30,
        username="u1",
        password="p1",
    )
    _carrier(session, "beta", "prefix,rate_per_minute\n33,0.02\n336,0.03\n", 5070, transport="tcp")
    _carrier(
        session,
        "off",
        "prefix,rate_per_minute\n33,0.001\n",
        5080,
        enabled=False,
        username="u3",
        password="p3",
    )
    session.add(MediaNode(name="fs1", host="10.0.0.5", sip_port=5080))
    session.add(MediaNode(name="fs2", host="10.0.0.6", sip_port=5090, transport="tcp", weight=2))
    session.add(MediaNode(name="fs3", host="10.0.0.7", enabled=False))

    result = services.sync_kamailio_tables(session)

    assert (result.gateways, result.rules, result.targets, result.media_nodes, result.credentials) == (
        2,
        2,
        4,
        2,
        1,
    )
    assert result.lcr_changed and result.dispatcher_changed and result.credentials_changed
    assert result.reloaded == ()
    alpha_trunk = alpha.trunks[0].id
    credentials = session.execute(sa.select(kt.htable.c.key_name, kt.htable.c.key_value)).all()
    assert sorted(tuple(c) for c in credentials) == [
        (f"{alpha_trunk}:password", "p1"),
        (f"{alpha_trunk}:username", "u1"),
    ]
    gateways = session.execute(
        sa.select(
            kt.lcr_gw.c.gw_name, kt.lcr_gw.c.ip_addr, kt.lcr_gw.c.port, kt.lcr_gw.c.transport, kt.lcr_gw.c.tag
        ).order_by(kt.lcr_gw.c.id)
    ).all()
    assert [tuple(g) for g in gateways] == [
        ("alpha-sbc", "192.0.2.1", 5060, 1, gateways[0].tag),
        ("beta-sbc", "192.0.2.1", 5070, 2, gateways[1].tag),
    ]
    assert gateways[0].tag.endswith(":30") and gateways[1].tag.endswith(":0")
    targets = session.execute(
        sa.select(
            kt.lcr_rule.c.prefix, kt.lcr_rule.c.stopper, kt.lcr_gw.c.gw_name, kt.lcr_rule_target.c.priority
        )
        .join(kt.lcr_rule_target, kt.lcr_rule_target.c.rule_id == kt.lcr_rule.c.id)
        .join(kt.lcr_gw, kt.lcr_gw.c.id == kt.lcr_rule_target.c.gw_id)
        .order_by(kt.lcr_rule.c.prefix, kt.lcr_rule_target.c.priority)
    ).all()
    assert [tuple(t) for t in targets] == [
        ("33", 1, "alpha-sbc", 0),
        ("33", 1, "beta-sbc", 1),
        ("336", 1, "beta-sbc", 0),
        ("336", 1, "alpha-sbc", 1),
    ]
    destinations = session.execute(
        sa.select(kt.dispatcher.c.setid, kt.dispatcher.c.destination, kt.dispatcher.c.attrs).order_by(
            kt.dispatcher.c.destination
        )
    ).all()
    assert [tuple(d) for d in destinations] == [
        (1, "sip:10.0.0.5:5080", "weight=1"),
        (1, "sip:10.0.0.6:5090;transport=tcp", "weight=2"),
    ]


def test_sync_without_changes_asks_for_no_reload(session: so.Session) -> None:
    _carrier(session, "alpha", "prefix,rate_per_minute\n33,0.01\n", 5060)
    session.add(MediaNode(name="fs1", host="10.0.0.5"))
    services.sync_kamailio_tables(session)

    unchanged = services.sync_kamailio_tables(session, ["http://127.0.0.1:9/RPC"])
    session.add(MediaNode(name="fs2", host="10.0.0.6"))
    media_only = services.write_kamailio_tables(session)

    assert unchanged.reloaded == ()
    assert (media_only.lcr_changed, media_only.dispatcher_changed, media_only.credentials_changed) == (
        False,
        True,
        False,
    )
    assert services.reload_commands(media_only) == [("dispatcher.reload",)]


def test_quote_number_ranks_carriers_with_usable_trunks(session: so.Session) -> None:
    _carrier(session, "alpha", "prefix,rate_per_minute\n33,0.01\n336,0.05\n", 5060)
    _carrier(session, "beta", "prefix,rate_per_minute\n33,0.02\n336,0.03\n", 5070)
    _carrier(session, "idle", "prefix,rate_per_minute\n33,0.001\n", 5080, enabled=False)
    alpha_id, beta_id = session.scalars(sa.select(Carrier.id).order_by(Carrier.name).limit(2)).all()

    assert [q.carrier_id for q in services.quote_number(session, "+33612345678")] == [beta_id, alpha_id]
    assert [q.carrier_id for q in services.quote_number(session, "33123456789")] == [alpha_id, beta_id]
