"""Parent runs for sweeps.

Revision 0002, after 0001, 2026-11-28.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("sweep_value", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_runs_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_runs_parent_id_runs", "runs", ["parent_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_constraint("fk_runs_parent_id_runs", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_runs_parent_id"))
        batch_op.drop_column("sweep_value")
        batch_op.drop_column("parent_id")
