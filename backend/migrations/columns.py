"""What the migrations share: the JSON column type and adding or dropping a table's columns.

Alembic's batch mode copies a SQLite table to alter it; PostgreSQL alters in place. The
migrations' history must not change, so this holds only what gives the same DDL as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSON everywhere, JSONB on PostgreSQL (what backend/orm.py maps).
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def add_columns(table: str, *columns: sa.Column[object], index: str | None = None) -> None:
    """Add the columns to a table; `index` names one of them to index (ix_<table>_<column>)."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.add_column(column)
        if index is not None:
            batch_op.create_index(f"ix_{table}_{index}", [index], unique=False)


def drop_columns(table: str, *names: str, index: str | None = None) -> None:
    """The inverse of add_columns: the index first, then the columns in reverse order."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        if index is not None:
            batch_op.drop_index(f"ix_{table}_{index}")
        for name in reversed(names):
            batch_op.drop_column(name)
