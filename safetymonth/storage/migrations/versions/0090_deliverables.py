"""Files counted for deliverables (campaign.deliverables) and the assign decision.

Revision ID: 0090
Revises: 0080
"""

from __future__ import annotations

revision = "0090"
down_revision = "0080"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the tables come with the work that needs them."""


def downgrade() -> None:
    """Nothing to undo."""
