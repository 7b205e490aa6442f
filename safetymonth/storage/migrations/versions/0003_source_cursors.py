"""Sources keep an opaque cursor string (IMAP: ``UIDVALIDITY:UID``), so a POP3 (UIDL) or a
Microsoft Graph (delta token) source fits without a schema change.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_cursors",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("cursor", sa.Text, nullable=False),
    )
    op.execute("INSERT INTO source_cursors (source, cursor) SELECT source, "
               "CAST(uidvalidity AS TEXT) || ':' || CAST(last_uid AS TEXT) FROM source_state")
    op.drop_table("source_state")
