"""The per-unit tally's index, the barrier's row, machine mail credited to no unit
(``PRAGMA user_version`` 2).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("checks_attachment", "checks", ["attachment"])
    op.create_table(
        "meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text),
    )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("not_credited", sa.Text))
