"""Batches: the parts a file over the target's max_import_bytes was split into.

Revision ID: 0004_batches
Revises: 0003_task_product
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_batches"
down_revision = "0003_task_product"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("batch_id", sa.Integer(), nullable=True))
    op.add_column("tasks", sa.Column("part_number", sa.Integer(), nullable=True))
    op.create_index("ix_tasks_batch_id", "tasks", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_tasks_batch_id", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("part_number")
        batch.drop_column("batch_id")
