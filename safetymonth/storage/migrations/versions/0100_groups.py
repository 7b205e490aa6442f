"""Groups (the level between bureau and institutions) and console users of one group:
``users.group``, the ``groups:`` id a coordinator or viewer is limited to (NULL: every unit,
as every user was before).

Revision ID: 0100
Revises: 0090
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0100"
down_revision = "0090"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.add_column(sa.Column("group", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.drop_column("group")
