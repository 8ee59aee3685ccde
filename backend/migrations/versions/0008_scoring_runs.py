"""Runs made from a finished run (scoring new households, the typing tool): their kind and
the run whose model they use, deleted with it.

Revision 0008, after 0007, 2026-12-20.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from backend.migrations.columns import add_columns, drop_columns

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    add_columns(
        "runs",
        sa.Column("kind", sa.String(length=16), nullable=False, server_default="fit"),
        sa.Column("source_run_id", sa.String(length=32), nullable=True),
        index="source_run_id",
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_runs_source_run_id", "runs", ["source_run_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_constraint("fk_runs_source_run_id", type_="foreignkey")
    drop_columns("runs", "kind", "source_run_id", index="source_run_id")
