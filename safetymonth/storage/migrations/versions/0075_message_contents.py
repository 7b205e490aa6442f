"""A message is a duplicate only when its content is (issue 16): the unique key on
(Message-ID, sender) becomes one on the content digest (``message_contents``), and a message
that reuses an earlier one's Message-ID with other content is recorded as new and notes it
(``messages.reuses``).

A message recorded before this revision gets its byte hash as its content key (its trace
fields cannot be told apart here without its raw file): a byte-identical copy is still a
duplicate, while a copy with other trace fields than the stored one is taken as new.

Revision ID: 0075
Revises: 0070
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0075"
down_revision = "0070"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("reuses", sa.Integer))  # ALTER: triggers stay
    op.create_table(
        "message_contents",
        sa.Column("content", sa.Text, primary_key=True),
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id"), nullable=False))
    op.execute("INSERT INTO message_contents (content, message) "
               "SELECT sha256, message FROM message_digests")
    op.drop_table("message_ids")


def downgrade() -> None:
    op.create_table(
        "message_ids",
        sa.Column("message_id", sa.Text, primary_key=True),
        sa.Column("sender", sa.Text, primary_key=True),
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id"), nullable=False))
    op.execute("INSERT INTO message_ids (message_id, sender, message) "
               "SELECT message_id, COALESCE(sender, ''), MIN(id) FROM messages "
               "WHERE message_id IS NOT NULL GROUP BY message_id, COALESCE(sender, '')")
    op.drop_table("message_contents")
    op.execute("ALTER TABLE messages DROP COLUMN reuses")  # not batch: the table is kept
