"""Run the Alembic migrations (as the database owner) from code."""

from __future__ import annotations

import pathlib

from alembic import command
from alembic.config import Config as AlembicConfig

ROOT = pathlib.Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> AlembicConfig:
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "heads")
