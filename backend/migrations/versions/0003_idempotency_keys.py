"""Idempotency keys of run submissions.

Revision 0003, after 0002, 2026-11-28.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_idempotency_keys_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_run_id", "idempotency_keys", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_run_id", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
