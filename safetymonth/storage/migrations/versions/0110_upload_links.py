"""Upload links and the tus uploads behind them.

``upload_links``: one row per link ever issued; the token itself is never stored, only its
SHA-256 (and the nonce it is derived from under the key in ``storage.dir``; see
:mod:`safetymonth.uploads.links`). A rotated link keeps its row, marked ``rotated_at``.
``uploads``: one row per tus upload, from its creation until its file is recorded as a
submission (``message``) or removed (``state`` ended).

Revision ID: 0110
Revises: 0100
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0110"
down_revision = "0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upload_links",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("nonce", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("issued_at", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Text, nullable=False),
        sa.Column("rotated_at", sa.Text),
    )
    op.create_index("upload_links_unit", "upload_links", ["unit", "rotated_at"])
    op.create_table(
        "uploads",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("length", sa.BigInteger, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("touched_at", sa.Text, nullable=False),
        sa.Column("message", sa.Integer, sa.ForeignKey("messages.id")),
        sa.Column("error", sa.Text),
    )
    op.create_index("uploads_unit", "uploads", ["unit", "state"])
    op.create_index("uploads_link", "uploads", ["link", "created_at"])
    op.create_index("uploads_idle", "uploads", ["state", "touched_at"])


def downgrade() -> None:
    op.drop_table("uploads")
    op.drop_table("upload_links")
