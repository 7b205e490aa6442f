"""The database: an engine for ``storage.database``, each connection's settings, and the
schema brought up to date (Alembic), including stores the first release wrote.

SQLite (the default, a file in ``storage.dir``) runs in WAL mode, so readers never wait for a
writer; a write transaction is ``BEGIN IMMEDIATE`` (it takes the write lock at once, never
half-way), a read is one statement in autocommit mode. PostgreSQL is for a shared
deployment; its password comes only from the environment (``storage.password_env``).

The first release versioned its SQLite schema with ``PRAGMA user_version`` (1 or 2); such a
store is stamped with the matching Alembic revision and upgraded on first open, in place. An
upgraded store's ``user_version`` is set to :data:`ALEMBIC_MANAGED`, which the first release
refuses as "newer than this program" instead of misreading it.
"""

from __future__ import annotations

import logging
import sqlite3
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from safetymonth.storage.errors import DatabaseError

# Alembic is imported only to read or change an older schema: opening a current one (every
# poll, report and console start) costs none of its import.
if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

DB_NAME = "safetymonth.db"
ALEMBIC_MANAGED = 100
LEGACY_REVISIONS = {1: "0001", 2: "0002"}  # the first release's user_version -> revision
BUSY_TIMEOUT = 30.0  # seconds SQLite waits for another process's write lock
WRITE = "safetymonth_write"  # connection.info flag: the next BEGIN takes the write lock
MIGRATION_LOCK = 0x5AFE7  # PostgreSQL advisory lock held while the schema is upgraded
MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger("safetymonth.storage")
logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines mean nothing to a clerk


def database_url(root: Path, url: str | None) -> str:
    return url or f"sqlite:///{root / DB_NAME}"


def create(url: str, password: str | None = None) -> Engine:
    """The engine for ``url``; ``password`` is sent only when given (else trust or peer
    authentication), and only when the URL holds none."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise DatabaseError(f"storage.database {url!r} is not a database URL: {error}") \
            from None
    if password is not None and parsed.password is None:
        parsed = parsed.set(password=password)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT})
        event.listen(engine, "connect", _sqlite_connected)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise DatabaseError(f"storage.database: {parsed.get_backend_name()} is not supported; "
                            f"use a SQLite file or postgresql+psycopg://USER@HOST:PORT/DB")
    return create_engine(parsed, pool_pre_ping=True)


def explain(error: DBAPIError, where: object) -> Exception:
    """A database failure as one sentence a clerk can act on, or the error itself when it is
    not one of the faults a service meets (then it is a bug, with its traceback)."""
    text = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    if "database is locked" in text or "database is busy" in text:
        return DatabaseError(f"the database {where} is busy: another process held its write "
                             f"lock for more than {BUSY_TIMEOUT:.0f} s; nothing was changed, "
                             f"try again")
    if "not a database" in text or "malformed" in text:
        return DatabaseError(f"the database {where} is damaged ({text}): restore it from a "
                             f"backup")
    if isinstance(error, OperationalError):
        return DatabaseError(f"database {where}: {text}")
    return error


def _sqlite_connected(dbapi: sqlite3.Connection, _record: object) -> None:
    dbapi.isolation_level = None  # SQLAlchemy's begin event issues BEGIN itself
    # Persistent; on a store already in WAL mode this takes no lock.
    dbapi.execute("PRAGMA journal_mode=WAL")
    # FULL outside batch mode; NORMAL inside it, with a FULL commit at each barrier.
    dbapi.execute("PRAGMA synchronous=FULL")
    dbapi.execute("PRAGMA foreign_keys=ON")


def _sqlite_begin(connection: Connection) -> None:
    """A write takes the lock at once; a read outside a write transaction is one statement,
    which SQLite runs as its own read transaction (no BEGIN and ROLLBACK around it)."""
    if connection.info.get(WRITE):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def set_sqlite_sync(connection: Connection, mode: str) -> None:
    """``PRAGMA synchronous`` on the driver's connection, outside any transaction."""
    if connection.dialect.name == "sqlite":
        dbapi = connection.connection.dbapi_connection
        assert dbapi is not None
        dbapi.execute(f"PRAGMA synchronous={mode}")


@cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


def _alembic(connection: Connection) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


# Alembic's own version table, as its stamp creates it.
_ALEMBIC_VERSION = Table("alembic_version", MetaData(),
                         Column("version_num", String(32), nullable=False),
                         PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


@cache
def head() -> str:
    """The newest revision: each file in ``migrations/versions`` is named for its revision
    (``0020_console_users.py`` holds revision 0020) and revises the one before it, so no
    migration script is loaded to know it (tests/storage/test_storage.py checks this against
    Alembic's own reading)."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("*.py"))


def _stamped(connection: Connection) -> str | None:
    """The revision in Alembic's version table, read without Alembic; None if it has none."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return str(rows[0][0]) if len(rows) == 1 else None


def revision(connection: Connection) -> str | None:
    """The schema's revision: Alembic's, or the first release's ``user_version`` mapped to
    its revision; None for an empty database. Raises for a schema newer than this program."""
    current = _stamped(connection)
    if current is None and connection.dialect.name == "sqlite":
        version = int(connection.exec_driver_sql("PRAGMA user_version").scalar() or 0)
        if version and version not in LEGACY_REVISIONS:
            raise DatabaseError(f"the store's schema (version {version}) is newer than this "
                                f"program: upgrade safetymonth")
        current = LEGACY_REVISIONS.get(version)
    if current is not None and current != head():  # an older one, or one we do not know
        from alembic.util import CommandError

        try:
            _script().get_revision(current)
        except CommandError:
            raise DatabaseError(f"the database schema (revision {current}) is newer than "
                                f"this program: upgrade safetymonth") from None
    return current


def upgrade(connection: Connection) -> None:
    """Bring the schema to the head revision. A current schema is only read (opening it
    takes no write lock: ``report`` never waits for a ``poll`` that is writing); otherwise the
    upgrade runs in one write transaction (PostgreSQL: under an advisory lock), after reading
    the revision again, since another process may have upgraded meanwhile."""
    current = revision(connection)
    connection.rollback()
    if current == head():
        return
    connection.info[WRITE] = True
    try:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": MIGRATION_LOCK})
            current = revision(connection)
            if current == head():
                return
            if current is None:
                log.info("database schema: creating revision %s", head())
                create_schema(connection)
            else:
                log.info("database schema: upgrading from %s to %s", current, head())
                migrate(connection, current)
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql(f"PRAGMA user_version={ALEMBIC_MANAGED}")
    finally:
        connection.info[WRITE] = False


def create_schema(connection: Connection) -> None:
    """The head schema in an empty database, stamped with its revision: the tables of
    :mod:`safetymonth.storage.schema` (which the migrations produce too, as
    tests/storage/test_storage_upgrade.py checks), with neither Alembic nor the migrations
    loaded."""
    from safetymonth.storage import store_version
    from safetymonth.storage.schema import metadata

    metadata.create_all(connection, checkfirst=False)
    store_version.create_triggers(connection)
    _ALEMBIC_VERSION.create(connection)
    connection.execute(_ALEMBIC_VERSION.insert().values(version_num=head()))


def migrate(connection: Connection, current: str | None) -> None:
    """Alembic's upgrade from ``current`` (None: an empty database) to the head revision. A
    store of the first release (``user_version``, no version table) is stamped first."""
    from alembic import command

    config = _alembic(connection)
    if current is not None and _stamped(connection) is None:
        command.stamp(config, current)
    command.upgrade(config, "head")


def schema_status(url: str, password: str | None) -> str:
    """Connect to ``url`` and say its schema is current, or raise :class:`DatabaseError`
    saying what it is instead (``safetymonth check``). Changes nothing."""
    engine = create(url, password)
    try:
        with engine.connect() as connection:
            current = revision(connection)
    except DBAPIError as error:
        raise explain(error, make_url(url).render_as_string(hide_password=True)) from None
    finally:
        engine.dispose()
    if current is None:
        raise DatabaseError("the database is empty: safetymonth poll creates its tables")
    if current != head():
        raise DatabaseError(f"the schema is at revision {current}, this program's is {head()}: "
                            f"the next safetymonth poll upgrades it")
    return f"schema current (revision {current})"
