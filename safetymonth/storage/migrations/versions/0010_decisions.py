"""Coordinators' decisions and read-time credit: the unit registry synced from the config,
the decisions audit table, and each message's sender domain (credit by ``@domain``).

Revision ID: 0010
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from safetymonth.storage.credit import content_id

revision = "0010"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("sender_domain", sa.Text))
    domain = ("'@' || split_part(sender, '@', 2)" if op.get_bind().dialect.name == "postgresql"
              else "'@' || substr(sender, instr(sender, '@') + 1)")
    op.execute(f"UPDATE messages SET sender_domain = {domain} WHERE sender LIKE '%@%'")
    op.create_index("messages_sender_domain", "messages", ["sender_domain"])
    with op.batch_alter_table("checks") as batch:
        batch.add_column(sa.Column("message", sa.Integer))
        batch.add_column(sa.Column("content", sa.BigInteger))
    _fill_checks(op.get_bind())
    op.create_index("checks_tally", "checks", ["message", "kind", "ok", "content"])
    op.create_index("checks_content", "checks", ["content"])
    op.create_table(
        "registry_units",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_table(
        "registry_addresses",
        sa.Column("address", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id")),
        sa.Column("file", sa.Integer, sa.ForeignKey("checks.id")),
        sa.Column("unit", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("undone_at", sa.Text),
        sa.Column("undone_by", sa.Text),
    )
    op.create_index("decisions_message", "decisions", ["message"])
    op.create_index("decisions_file", "decisions", ["file"])


def _fill_checks(connection: sa.Connection) -> None:
    """Each check's message and content id (computed in Python: a hash SQL has no portable
    function for)."""
    rows = connection.execute(sa.text(
        "SELECT checks.id, attachments.message, attachments.sha256, attachments.name, "
        "checks.path FROM checks JOIN attachments ON attachments.id = checks.attachment")).all()
    if rows:
        connection.execute(
            sa.text("UPDATE checks SET message = :message, content = :content WHERE id = :id"),
            [{"id": row[0], "message": row[1], "content": content_id(row[2], row[3], row[4])}
             for row in rows])


def downgrade() -> None:
    op.drop_table("decisions")
    op.drop_table("registry_addresses")
    op.drop_table("registry_units")
    op.drop_index("checks_content", "checks")
    op.drop_index("checks_tally", "checks")
    with op.batch_alter_table("checks") as batch:
        batch.drop_column("content")
        batch.drop_column("message")
    op.drop_index("messages_sender_domain", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("sender_domain")
