"""The store's one connection, shared by every part of the repository: its transactions,
the four ways to run a statement (:meth:`Session.one`, :meth:`Session.all`,
:meth:`Session.write`, :meth:`Session.insert_ignoring` / :meth:`Session.upsert`), and this
process as a worker (its claims are only as good as its registration and heartbeat).

It is the small public base of :mod:`safetymonth.storage`: each part
(:mod:`~safetymonth.storage.messages`, :mod:`~safetymonth.storage.replies`, ...) holds the
session and nothing of another part's. Rows never leave ``storage/``.

Transactions. A write commits on its own, or joins the caller's :meth:`Session.transaction`,
which commits or rolls back the whole. A read outside a transaction is a short read
transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam, or_, select, update
from sqlalchemy.exc import DBAPIError

from safetymonth.storage import claims, database
from safetymonth.storage.database import WRITE
from safetymonth.storage.errors import DatabaseError
from safetymonth.storage.files import FileStore, create_private_file
from safetymonth.storage.hot import compile_hot, hot, is_hot
from safetymonth.storage.schema import messages, replies, source_locks, workers


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def free(column: Any) -> Any:
    """The claim in ``column`` is ours (bound as ``me``), nobody's, or a dead worker's (no
    heartbeat since ``alive_since``)."""
    live = select(workers.c.owner).where(workers.c.heartbeat_at >= bindparam("alive_since"))
    return or_(column.is_(None), column == bindparam("me"), column.not_in(live))


@cache
def inserting(dialect: str, table: Any, key: tuple[str, ...], updating: tuple[str, ...] = (),
              returning: str | None = None) -> Any:
    """INSERT into ``table``, its values bound at execution: on a conflict over ``key``
    nothing (returning the column ``returning``, else the first of ``key``, when inserted),
    or the ``updating`` columns set to the new row's. Built once per dialect and shape, so
    SQLAlchemy compiles it once."""
    statement = dialect_insert(dialect, table)
    if updating:
        return hot(statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: statement.excluded[name] for name in updating}))
    return hot(statement.on_conflict_do_nothing(index_elements=list(key))
               .returning(table.c[returning or key[0]]))


def dialect_insert(dialect: str, table: Any) -> Any:
    """The dialect's INSERT (with ON CONFLICT). A dialect's module is imported when used:
    a poll on SQLite loads none of PostgreSQL's."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


class Session:
    """One connection to the store's database, with its transactions and worker identity;
    not thread-safe (one per thread or process)."""

    def __init__(self, files: FileStore, url: str | None = None, password: str | None = None,
                 new_database: bool = False) -> None:
        """Open the database; one that is missing while ``storage.dir`` holds messages is
        refused (never recreated silently) unless ``new_database`` says to start anew."""
        self.files = files
        root = files.root
        where = root / database.DB_NAME if url is None else url
        if url is None and not (root / database.DB_NAME).exists():
            self._refuse_a_lost_database(where, new_database)
            create_private_file(root / database.DB_NAME)  # 0600 before SQLite makes it
        self.engine: Engine = database.create(database.database_url(root, url), password)
        try:
            self.conn: Connection = self.engine.connect()
            if url is not None and database.revision(self.conn) is None:
                self._refuse_a_lost_database(where, new_database)
            database.upgrade(self.conn)
        except DBAPIError as error:
            self.engine.dispose()
            raise database.explain(error, where) from None
        except BaseException:
            self.engine.dispose()
            raise
        self.depth = 0  # transaction() nesting
        self._me: claims.Identity | None = None  # registered as a worker at the first claim
        self._heartbeat: claims.Heartbeat | None = None
        self._registering = False  # registered inside the current transaction
        # Hot statements compiled for this connection, by statement and parameter names
        # (None: left to SQLAlchemy).
        self._hot: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _refuse_a_lost_database(self, where: Path | str, new_database: bool) -> None:
        if new_database or not self.files.holds_messages():
            return
        raise DatabaseError(
            f"the database {where} is missing or empty, but {self.files.root} holds stored "
            f"messages: restore the database from a backup, or run safetymonth poll "
            f"--new-database to start a new one (the stored files stay; earlier messages "
            f"are fetched again only while still unmarked on the server)")

    def close(self) -> None:
        try:
            self.retire()
        finally:
            self.conn.close()
            self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    # --- transactions -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (SQLite: BEGIN IMMEDIATE), rolled back on any exception.
        Inside another it is part of that one, which commits or rolls back the whole."""
        if self.depth:
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
            return
        self.end_read()
        self.conn.info[WRITE] = True
        self.depth = 1
        try:
            with self.conn.begin():
                yield
                beat = self._heartbeat if self._heartbeat and self._heartbeat.due() else None
                if beat is not None:  # carried by this commit (see claims.Heartbeat)
                    beat.record(self.conn)
            if beat is not None:
                beat.recorded()
        except DBAPIError as error:
            if self._registering:
                self._forget_registration()
            explained = database.explain(error, self.engine.url.render_as_string())
            if explained is error:
                raise
            raise explained from error
        except BaseException:
            if self._registering:  # the worker's row was rolled back too
                self._forget_registration()
            raise
        finally:
            self.depth = 0
            self._registering = False
            self.conn.info[WRITE] = False

    def end_read(self) -> None:
        """End the read transaction a statement outside :meth:`transaction` began."""
        if not self.depth and self.conn.in_transaction():
            self.conn.rollback()

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        """Run a statement inside the caller's :meth:`transaction` (its result stays here).
        One marked :func:`~safetymonth.storage.hot.hot` runs on the driver's cursor."""
        if self.depth and type(parameters) is dict and is_hot(statement):
            shape = (id(statement), tuple(parameters))
            compiled = self._hot.get(shape, self._hot)
            if compiled is self._hot:
                compiled = self._hot[shape] = compile_hot(statement, self.conn, shape[1])
            if compiled is not None:
                return compiled.run(self.conn, parameters)
        return self.conn.execute(statement, parameters)

    def all(self, statement: Any, parameters: Any = None) -> Sequence[Row[Any]]:
        rows = self.execute(statement, parameters).all()
        self.end_read()
        return rows  # type: ignore[no-any-return]

    def one(self, statement: Any, parameters: Any = None) -> Row[Any] | None:
        row = self.execute(statement, parameters).first()
        self.end_read()
        return row  # type: ignore[no-any-return]

    def write(self, statement: Any, parameters: Any = None) -> int:
        """Run one statement in (or as) a write transaction; returns the rows it touched."""
        with self.transaction():
            return int(self.execute(statement, parameters).rowcount)

    def insert_ignoring(self, table: Any, key: list[str], values: dict[str, Any]) -> bool:
        """INSERT unless a row with the same ``key`` exists; True when inserted."""
        statement = inserting(self.dialect, table, tuple(key))
        with self.transaction():  # RETURNING, since an INSERT's rowcount is not portable
            return self.execute(statement, values).first() is not None

    def upsert(self, table: Any, key: list[str], values: dict[str, Any]) -> None:
        self.write(inserting(self.dialect, table, tuple(key),
                             tuple(name for name in values if name not in key)), values)

    # --- this process as a worker -----------------------------------------------------

    @property
    def owner(self) -> str:
        """This process as a worker, registered (and its heartbeat started) on first use.
        Registered inside a caller's transaction, it is undone with that transaction."""
        if self._me is None:
            me = claims.this_process()
            self._registering = self.depth > 0
            with self.transaction():
                self.reap(me.host)
                self.conn.execute(workers.insert().values(
                    owner=me.owner, host=me.host, pid=me.pid, started=me.started,
                    heartbeat_at=claims.timestamp()))
            self._me = me
            self._heartbeat = claims.Heartbeat(self.engine, me.owner,
                                               busy=lambda: self.depth > 0)
        return self._me.owner

    def _forget_registration(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self._me = self._heartbeat = None

    @property
    def host(self) -> str:
        self.owner  # noqa: B018 (registers)
        assert self._me is not None
        return self._me.host

    def reap(self, host: str) -> None:
        """Forget this host's workers whose process is gone (killed, crashed)."""
        dead = [row.owner for row in self.conn.execute(
            select(workers).where(workers.c.host == host))
            if not claims.alive_here(row.pid, row.started)]
        if dead:
            self.conn.execute(workers.delete().where(workers.c.owner.in_(dead)))

    def retire(self) -> None:
        """Release this worker's claims and leave (a clean exit frees them at once)."""
        if self._me is None:
            return
        owner = self._me.owner
        self._forget_registration()
        self.end_read()
        with self.transaction():
            for table in (messages, replies):
                self.conn.execute(update(table).where(table.c.claimed_by == owner)
                                  .values(claimed_by=None))
            self.conn.execute(source_locks.delete().where(source_locks.c.owner == owner))
            self.conn.execute(workers.delete().where(workers.c.owner == owner))
        self._me = None

    def claimant(self) -> dict[str, str]:
        """The values :func:`free` binds: this worker, and since when a live one beats."""
        return {"me": self.owner, "alive_since": claims.timestamp(claims.LEASE)}


Clock = Callable[[], datetime]  # the current time, timezone-aware
