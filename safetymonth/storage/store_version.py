"""The store's version: one number in ``meta`` that every write to the tables the board and
the report are computed from bumps, in the writer's own transaction, by database triggers.

Reading it is one primary-key lookup whatever the size of the store, and it is right across
processes (a poller elsewhere bumps it in its commit) and for writers that do not know about
it (the migrations, ``refresh_credit``, a restore): the trigger is the database's, not the
code's. On PostgreSQL the triggers are deferred to the commit and bump once per transaction
(a transaction-local flag): the version row is locked only at the very end of a write
transaction, so writers never wait for it while holding other locks (no deadlock with a
coordinator's decision locking the same checks), and a reader never sees a new version before
the data it stands for is committed.

A migration that rebuilds a watched table (``batch_alter_table`` on SQLite copies it into a
new one) drops its triggers: such a migration must call :func:`create_triggers` again.
"""

from __future__ import annotations

from sqlalchemy import Connection

KEY = "store_version"
WATCHED = ("messages", "checks", "decisions", "replies")
EVENTS = ("INSERT", "UPDATE", "DELETE")
_BUMP_SQLITE = f"UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = '{KEY}'"
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION bump_store_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('safetymonth.store_version_bumped', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('safetymonth.store_version_bumped', 'yes', true);
        UPDATE meta SET value = (value::bigint + 1)::text WHERE key = '{KEY}';
    END IF;
    RETURN NULL;
END $$"""


def _name(table: str, event: str) -> str:
    return f"{table}_{event.lower()}_bumps_store_version"


def create_triggers(connection: Connection) -> None:
    """The version row (if missing) and one trigger per watched table and event."""
    connection.exec_driver_sql(
        f"INSERT INTO meta (key, value) SELECT '{KEY}', '0' "
        f"WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = '{KEY}')")
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.exec_driver_sql(_PG_FUNCTION)
    for table in WATCHED:
        for event in EVENTS:
            name = _name(table, event)
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}"
                                       + (f" ON {table}" if postgres else ""))
            if postgres:
                connection.exec_driver_sql(
                    f"CREATE CONSTRAINT TRIGGER {name} AFTER {event} ON {table} "
                    "DEFERRABLE INITIALLY DEFERRED "
                    "FOR EACH ROW EXECUTE FUNCTION bump_store_version()")
            else:
                connection.exec_driver_sql(
                    f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                    f"BEGIN {_BUMP_SQLITE}; END")


def fire_pending(connection: Connection) -> None:
    """Run the version triggers an earlier step of this upgrade queued. PostgreSQL defers
    them to the commit, and refuses ALTER TABLE or CREATE INDEX on a table with pending
    trigger events: migrations/env.py calls this after every step of an upgrade."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")  # fires what is queued
        connection.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")


def drop_triggers(connection: Connection) -> None:
    postgres = connection.dialect.name == "postgresql"
    for table in WATCHED:
        for event in EVENTS:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_name(table, event)}"
                                       + (f" ON {table}" if postgres else ""))
    if postgres:
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS bump_store_version()")
    connection.exec_driver_sql(f"DELETE FROM meta WHERE key = '{KEY}'")
