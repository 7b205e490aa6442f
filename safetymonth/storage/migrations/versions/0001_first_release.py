"""The first release's schema (``PRAGMA user_version`` 1).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_key", sa.Text, nullable=False, unique=True),
        sa.Column("message_id", sa.Text),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sender", sa.Text),
        sa.Column("sender_name", sa.Text),
        sa.Column("unit", sa.Text),
        sa.Column("auth", sa.Text),
        sa.Column("suspicious", sa.Text),
        sa.Column("subject", sa.Text),
        sa.Column("date_header", sa.Text),
        sa.Column("received_at", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("no_reply", sa.Text),
        sa.Column("notes", sa.Text),
    )
    op.create_index("messages_message_id", "messages", ["message_id"])
    op.create_index("messages_sha256", "messages", ["sha256"])
    op.create_index("messages_unit", "messages", ["unit"])
    op.create_table(
        "source_keys",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("seen_at", sa.Text, nullable=False),
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("stored_name", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content_type", sa.Text),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.UniqueConstraint("message", "position"),
    )
    op.create_table(
        "checks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("attachment", sa.Integer, sa.ForeignKey("attachments.id"), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("ok", sa.Integer, nullable=False),
    )
    op.create_table(
        "replies",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id")),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("unit", sa.Text),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("sent_at", sa.Text),
    )
    op.create_index("replies_recipient", "replies", ["recipient", "created_at"])
    op.create_index("replies_state", "replies", ["state"])
    op.create_table(
        "source_state",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("uidvalidity", sa.Integer, nullable=False),
        sa.Column("last_uid", sa.Integer, nullable=False),
    )
