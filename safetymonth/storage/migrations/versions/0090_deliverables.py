"""Files counted for deliverables (campaign.deliverables) and the assign decision.

``checks.deliverable`` is the deliverable a file counts for, ``decisions.deliverable`` the one
an assign decision names. The column starts empty and no deliverables fingerprint is stored:
the next open (which knows the config) assigns every existing file by the rule
(:meth:`safetymonth.storage.assignment.Assignments.sync_deliverables`), as 0050 left the
credit columns to the registry sync.

Revision ID: 0090
Revises: 0080
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from safetymonth.storage import store_version

revision = "0090"
down_revision = "0080"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checks") as batch:
        batch.add_column(sa.Column("deliverable", sa.Text))
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("deliverable", sa.Text))
    op.execute("DELETE FROM meta WHERE key = 'deliverables'")
    store_version.create_triggers(op.get_bind())  # SQLite copied the tables without them


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("deliverable")
    with op.batch_alter_table("checks") as batch:
        batch.drop_column("deliverable")
    store_version.create_triggers(op.get_bind())
