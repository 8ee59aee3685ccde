"""A run's case or survey weights: the weight column.

Revision 0007, after 0006, 2026-12-15.
"""

from __future__ import annotations

import sqlalchemy as sa

from backend.migrations.columns import add_columns, drop_columns

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    add_columns("runs", sa.Column("weight_column", sa.String(length=255), nullable=True))


def downgrade() -> None:
    drop_columns("runs", "weight_column")
