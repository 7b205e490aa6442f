"""The store's version (``meta.store_version``), bumped by triggers in every write to
messages, checks, decisions and replies, so that the console reads one row instead of
counting 100,000 checks to know whether its cached board is still right
(:mod:`safetymonth.storage.store_version`).

Revision ID: 0060
Revises: 0050
"""

from __future__ import annotations

from alembic import op

from safetymonth.storage import store_version

revision = "0060"
down_revision = "0050"
branch_labels = None
depends_on = None


def upgrade() -> None:
    store_version.create_triggers(op.get_bind())


def downgrade() -> None:
    store_version.drop_triggers(op.get_bind())
