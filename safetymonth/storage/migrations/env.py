"""Alembic's entry point. The store always hands over its own open connection (and its
transaction), so nothing here connects anywhere."""

from __future__ import annotations

from alembic import context
from alembic.runtime.migration import MigrationContext

from safetymonth.storage import store_version
from safetymonth.storage.schema import metadata


def _fire_pending(ctx: MigrationContext, **_: object) -> None:
    """After each step: PostgreSQL defers the version triggers to the commit and refuses to
    alter a table with pending trigger events, which a later step may want to do."""
    store_version.fire_pending(ctx.connection)


connection = context.config.attributes["connection"]
# render_as_batch: SQLite alters a table by copying it, which batch mode does for us.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  on_version_apply=_fire_pending)
with context.begin_transaction():
    context.run_migrations()
