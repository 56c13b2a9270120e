"""Alembic runs as the database owner (DATABASE_URL); the app connects as its own role."""

import os

from alembic import context
from sqlalchemy import create_engine, pool

import app.models  # noqa: F401  (loads every model into the metadata)
from app.db import Base
from app.extensions import sqlalchemy_url

config = context.config
target_metadata = Base.metadata


def owner_url():
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set")
    return sqlalchemy_url(url)


def include_object(obj, name, type_, reflected, compare_to):
    # Kamailio's tables live in their own schema and are managed by their migration.
    return getattr(obj, "schema", None) != "kamailio"


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(owner_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
