"""Upload links and the tus uploads behind them.

Revision ID: 0110
Revises: 0100
"""

from __future__ import annotations

revision = "0110"
down_revision = "0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the tables come with the work that needs them."""


def downgrade() -> None:
    """Nothing to undo."""
