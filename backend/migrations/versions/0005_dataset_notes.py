"""What an upload's reading found: blank rows dropped, notes.

Revision 0005, after 0004, 2026-12-08.
"""

from __future__ import annotations

import sqlalchemy as sa

from backend.migrations.columns import JSON, add_columns, drop_columns

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    add_columns(
        "datasets",
        sa.Column("n_blank_rows", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("notes", JSON, nullable=True),
    )


def downgrade() -> None:
    drop_columns("datasets", "n_blank_rows", "notes")
