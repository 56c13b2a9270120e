"""Shared set-up for the benchmarks: a throwaway database on the server named by
DATABASE_URL (or an embedded PostgreSQL), migrated like production."""

from __future__ import annotations

import os
import pathlib
import sys

import sqlalchemy as sa

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bench_database(name: str) -> str:
    """Create (or recreate) database ``name`` and return its owner URL, with the
    environment set so that ``app.runtime.boot_from_env()`` connects to it."""
    from app.embedded import ensure_environment
    from app.extensions import sqlalchemy_url

    ensure_environment(ROOT / "var" / "bench-services")
    server = sqlalchemy_url(os.environ["DATABASE_URL"])
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    os.environ["DATABASE_URL"] = url
    from app.migrate import upgrade

    upgrade(url)
    return url


def drop_database(name: str) -> None:
    from app.extensions import dispose_db, sqlalchemy_url

    dispose_db()
    server = sqlalchemy_url(os.environ["DATABASE_URL"]).set(database="postgres")
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
