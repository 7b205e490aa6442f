"""A zip member's position (``checks.member``): downloads and ``export`` find a member by it,
never by its name, since two members may share one (an HTML page and a photo both called
``现场.jpg``: the accepted photo must be the one served).

New checks record the member's index in the central directory. The release before recorded
a zip's verdicts one per file, in the directory's order, directories skipped; so an existing
member check gets -n for the n-th file (``validator.archive.member_at`` reads both), counted
among its attachment's checks that are members (their path is not the attachment's name).

Revision ID: 0070
Revises: 0060
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from safetymonth.storage import store_version

revision = "0070"
down_revision = "0060"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checks") as batch:
        batch.add_column(sa.Column("member", sa.Integer))
    op.execute("""
        UPDATE checks SET member = -(
            SELECT count(*) FROM checks AS earlier
            JOIN attachments ON attachments.id = earlier.attachment
            WHERE earlier.attachment = checks.attachment AND earlier.id <= checks.id
              AND earlier.path <> attachments.name)
        WHERE checks.path <> (SELECT name FROM attachments
                              WHERE attachments.id = checks.attachment)
    """)


def downgrade() -> None:
    with op.batch_alter_table("checks") as batch:
        batch.drop_column("member")
    store_version.create_triggers(op.get_bind())  # SQLite copied the table without them
