"""The migrations build exactly the schema backend/orm.py maps, and go down and up again
without a difference, on SQLite and (when the suite has one) on PostgreSQL. Each check runs in a
process of its own on a database of its own, so the session's database is never touched."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import backend.orm as orm
from backend.db import get_engine
from backend.migrations import alembic_config, upgrade_database


def differences():
    with get_engine().connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), orm.Base.metadata)


def move(step, revision):
    config = alembic_config()
    with get_engine().begin() as connection:
        config.attributes["connection"] = connection
        step(config, revision)


upgrade_database()
assert differences() == [], differences()
move(command.downgrade, "base")
move(command.upgrade, "head")
assert differences() == [], differences()
print("ok")
"""


def run_check(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def test_sqlite_schema_matches_the_models_and_round_trips(tmp_path: Path) -> None:
    run_check(f"sqlite:///{tmp_path / 'migrations.db'}")


@pytest.fixture
def postgres_database() -> Iterator[str]:
    admin = os.environ.get("TEST_DATABASE_URL")
    if not admin:
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it)")
    admin = admin.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"ms_migrations_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def test_postgresql_schema_matches_the_models_and_round_trips(postgres_database: str) -> None:
    run_check(postgres_database)
