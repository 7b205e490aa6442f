"""The credit of every message and file kept in step with the registry and the decisions
(``messages.credit_unit``, ``checks.credit_unit`` and ``checks.judged_ok``), so that the board
counts from one covering index instead of working out 100,000 files' credit per read.

The columns start empty and the registry fingerprint is dropped: the next open syncs the
registry again, which fills them through :meth:`CreditQueries.refresh_credit` (the rule is
written once, in ``storage.credit``).

Revision ID: 0050
Revises: 0040
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0050"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("credit_unit", sa.Text))
    with op.batch_alter_table("checks") as batch:
        batch.add_column(sa.Column("credit_unit", sa.Text))
        batch.add_column(sa.Column("judged_ok", sa.Integer))
    op.create_index("messages_credit", "messages", ["credit_unit", "received_at"])
    op.create_index("checks_credit", "checks", ["credit_unit", "kind", "judged_ok", "content"])
    op.create_index("decisions_content", "decisions", ["content"])
    op.create_index("replies_message", "replies", ["message", "state"])
    op.execute("DELETE FROM meta WHERE key = 'registry'")


def downgrade() -> None:
    op.drop_index("replies_message", "replies")
    op.drop_index("decisions_content", "decisions")
    op.drop_index("checks_credit", "checks")
    op.drop_index("messages_credit", "messages")
    with op.batch_alter_table("checks") as batch:
        batch.drop_column("judged_ok")
        batch.drop_column("credit_unit")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("credit_unit")
