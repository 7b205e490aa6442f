"""Groups (the level between bureau and institutions) and console users of one group.

Revision ID: 0100
Revises: 0090
"""

from __future__ import annotations

revision = "0100"
down_revision = "0090"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the tables come with the work that needs them."""


def downgrade() -> None:
    """Nothing to undo."""
