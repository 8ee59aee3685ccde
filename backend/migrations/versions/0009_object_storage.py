"""Datasets' rows and runs' artifacts in object storage: each row's storage key. Rows stored
before keep their `data` blob (already nullable) until `market-structure migrate-storage`
moves it.

Revision 0009, after 0008, 2026-12-01.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from backend.migrations.columns import add_columns, drop_columns

revision = "0009"
down_revision = "0008"

TABLES = ("datasets", "artifacts")


def upgrade() -> None:
    for table in TABLES:
        add_columns(table, sa.Column("storage_key", sa.String(length=512), nullable=True))


def downgrade() -> None:
    # A row already moved has its bytes in storage only: dropping its key would lose them.
    for table in TABLES:
        moved = sa.text(f"SELECT 1 FROM {table} WHERE storage_key IS NOT NULL LIMIT 1")
        if op.get_bind().execute(moved).first():
            raise RuntimeError(
                f"{table} has rows whose bytes are in object storage only; downgrading below "
                "0009 would lose them."
            )
    for table in TABLES:
        drop_columns(table, "storage_key")
