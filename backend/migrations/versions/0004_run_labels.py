"""Names given to a run's units.

Revision 0004, after 0003, 2026-12-01.
"""

from __future__ import annotations

import sqlalchemy as sa

from backend.migrations.columns import JSON, add_columns, drop_columns

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    add_columns("runs", sa.Column("labels", JSON, nullable=True))


def downgrade() -> None:
    drop_columns("runs", "labels")
