"""Digest replies: a registered unit's message held back by the rate limit records when its
window ends (``held_until``), and the digest reply that answered it (``digest``).

Revision ID: 0030
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("held_until", sa.Text))
        batch.add_column(sa.Column("digest", sa.Text))
    op.create_index("messages_held", "messages", ["held_until"])


def downgrade() -> None:
    op.drop_index("messages_held", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("digest")
        batch.drop_column("held_until")
