"""Tasks remember which of Stream's import APIs holds their import: `product`.

NULL (every task before this) is a chat import through `/imports`; `feeds` is an
Import V2 task (`/imports/v2`, a Feeds v3 file). Stored with the remote path,
before the upload, so that a crash between create and store is reconciled
against the right API's list.

Revision ID: 0003_task_product
Revises: 0002_daemons
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_task_product"
down_revision = "0002_daemons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("product", sa.String(10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("product")
