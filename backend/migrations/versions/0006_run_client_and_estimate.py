"""Who submitted a run (a hash of its API token) and its estimated cost.

Revision 0006, after 0005, 2026-12-10.
"""

from __future__ import annotations

import sqlalchemy as sa

from backend.migrations.columns import JSON, add_columns, drop_columns

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    add_columns(
        "runs",
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("estimate", JSON, nullable=True),
        index="client_id",
    )


def downgrade() -> None:
    drop_columns("runs", "client_id", "estimate", index="client_id")
