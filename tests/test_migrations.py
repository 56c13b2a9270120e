"""The migrations build exactly the schema the models declare: a column, index or
constraint added to one and not the other fails here instead of in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import app.models  # noqa: F401  (every feature's models)
from app.db import Base


def test_models_and_migrations_agree(owner_engine):
    with owner_engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
