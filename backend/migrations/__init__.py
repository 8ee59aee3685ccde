"""Alembic migrations, applied programmatically (`market-structure migrate`, or on API start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from backend.db import get_engine
from backend.settings import get_settings

HERE = Path(__file__).parent
# Any fixed number: PostgreSQL advisory lock that serialises concurrent `upgrade` calls.
LOCK_ID = 747_201


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", get_settings().resolved_database_url)
    return config


def upgrade_database(revision: str = "head") -> None:
    engine = get_engine()
    config = alembic_config()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
