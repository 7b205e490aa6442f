"""Several processes, exactly once: live workers, message and reply claims, one watcher per
source, and unique content hashes and Message-IDs (a side table each, so that a store holding
an old duplicate still upgrades: the first record keeps the key).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("owner", sa.Text, primary_key=True),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started", sa.Text, nullable=False),
        sa.Column("heartbeat_at", sa.Text, nullable=False),
    )
    op.create_table(
        "source_locks",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
    )
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("claimed_by", sa.Text))
    with op.batch_alter_table("replies") as batch:
        batch.add_column(sa.Column("claimed_by", sa.Text))
    op.create_table(
        "message_digests",
        sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
    )
    op.create_table(
        "message_ids",
        sa.Column("message_id", sa.Text, primary_key=True),
        sa.Column("sender", sa.Text, primary_key=True),  # '' for none
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
    )
    op.execute("INSERT INTO message_digests (sha256, message) "
               "SELECT sha256, min(id) FROM messages GROUP BY sha256")
    op.execute("INSERT INTO message_ids (message_id, sender, message) "
               "SELECT message_id, coalesce(sender, ''), min(id) FROM messages "
               "WHERE message_id IS NOT NULL GROUP BY message_id, coalesce(sender, '')")
