"""Alembic's entry point. The store always hands over its own open connection (and its
transaction), so nothing here connects anywhere."""

from __future__ import annotations

from alembic import context

from safetymonth.storage.schema import metadata

connection = context.config.attributes["connection"]
# render_as_batch: SQLite alters a table by copying it, which batch mode does for us.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
