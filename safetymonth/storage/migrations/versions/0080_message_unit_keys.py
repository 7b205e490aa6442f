"""``messages.unit``, the unit intake's triage credited, holds the unit's key (its id, else its
name), as ``messages.credit_unit`` (the unit credited now) and the rest of the store do;
intake stored the unit's name until now.

The names are mapped through the unit registry as the config last synced it
(``registry_units``), as 0040 did for ``replies.unit``. A name the registry no longer lists
stays as it was, and a value that is a key already is left alone.

Revision ID: 0080
Revises: 0075
"""

from __future__ import annotations

from alembic import op

revision = "0080"
down_revision = "0075"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE messages SET unit = (SELECT registry_units.key FROM registry_units"
        " WHERE registry_units.name = messages.unit)"
        " WHERE unit IN (SELECT name FROM registry_units WHERE key <> name)"
        " AND unit NOT IN (SELECT key FROM registry_units)")


def downgrade() -> None:
    op.execute(
        "UPDATE messages SET unit = (SELECT registry_units.name FROM registry_units"
        " WHERE registry_units.key = messages.unit)"
        " WHERE unit IN (SELECT key FROM registry_units WHERE key <> name)")
