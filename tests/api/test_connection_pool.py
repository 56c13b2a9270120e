"""The application's connection pool checks connections without a round trip
(no pool_pre_ping): a connection the server closed while it sat in the pool is
replaced at checkout, so the request that takes it does not fail."""

from __future__ import annotations

import time

import sqlalchemy as sa

from app import extensions
from app.extensions import Session


def _pooled_backend_pid() -> int:
    with extensions.engine().connect() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def test_a_connection_closed_by_the_server_is_replaced_at_checkout(db, owner_engine):
    engine = extensions.engine()
    engine.pool.dispose()
    first = _pooled_backend_pid()
    assert _pooled_backend_pid() == first  # the pool gives the same connection back
    with owner_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar_one()
    time.sleep(0.2)  # the server's goodbye reaches the idle socket
    # the session's first statement runs on a fresh connection, without an error
    assert Session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != first
    Session.rollback()


def test_checkout_costs_no_round_trip(db):
    engine = extensions.engine()
    statements: list[str] = []

    def seen(conn, cursor, statement, *_args) -> None:
        statements.append(statement)

    with extensions.engine().connect() as conn:  # a pooled connection to take again
        conn.exec_driver_sql("SELECT 1")
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 2")
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert statements == ["SELECT 2"]
