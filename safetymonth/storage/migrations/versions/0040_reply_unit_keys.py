"""``replies.unit`` holds the unit's key (its id, else its name) for every kind of reply, as
the rest of the store does; intake replies held the unit's name until now.

The names are mapped through the unit registry as the config last synced it
(``registry_units``). A name the registry no longer lists stays as it was, and a value that is
a key already is left alone.

Revision ID: 0040
Revises: 0030
"""

from __future__ import annotations

from alembic import op

revision = "0040"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE replies SET unit = (SELECT registry_units.key FROM registry_units"
        " WHERE registry_units.name = replies.unit)"
        " WHERE kind = 'reply'"
        " AND unit IN (SELECT name FROM registry_units WHERE key <> name)"
        " AND unit NOT IN (SELECT key FROM registry_units)")


def downgrade() -> None:
    op.execute(
        "UPDATE replies SET unit = (SELECT registry_units.name FROM registry_units"
        " WHERE registry_units.key = replies.unit)"
        " WHERE kind = 'reply' AND unit IN (SELECT key FROM registry_units WHERE key <> name)")
