"""The repository: every read and write of the store's state, named for its purpose.

Callers get frozen dataclasses (:class:`MessageRecord`, :class:`FileRecord`,
:class:`ReplyRecord`, :class:`Tally`, ...), never rows, SQL or a connection. One
repository holds one database connection and the :class:`FileStore` of ``storage.dir``; it is
not thread-safe (one per thread or process).

Several processes, exactly once. Recording is a constraint, not a check followed by an insert:
a message's source key, its hash and its content digest (no trace fields) are each a unique key,
so two processes recording one message collide and one of them finds the other's record. A
message is processed, and a reply handed to a transport, only by the worker that claimed it
(:meth:`claim`, :meth:`claim_next`, :meth:`claim_replies`); a dead worker's claims are free
again (see :mod:`safetymonth.storage.claims`). A watching poll holds its source
(:meth:`hold_source`).

Transactions. A write method commits on its own, or joins the caller's
:meth:`Repository.transaction`, which commits or rolls back the whole. A read outside a
transaction is a short read transaction of its own.

Durability (see :mod:`safetymonth.storage.files`): in :meth:`Repository.batch` mode files are
not fsynced one by one and SQLite commits with ``synchronous=NORMAL``; :meth:`barrier` (or
:meth:`start_barrier` and :meth:`finish_barrier`) makes the files and then the database
durable (SQLite: a ``synchronous=FULL`` commit syncs the WAL and every earlier commit;
PostgreSQL commits durably anyway) before an irreversible step.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Row, bindparam, case, func, or_, select, update
from sqlalchemy.exc import DBAPIError

from safetymonth.config import Config
from safetymonth.storage import claims, database
from safetymonth.storage.credit import CreditQueries, RegistryUnit, content_id, keeps_credit
from safetymonth.storage.database import WRITE
from safetymonth.storage.errors import DatabaseError, SourceHeldError
from safetymonth.storage.files import (
    FILES_DIR,
    RAW_DIR,
    FileStore,
    create_private_file,
    file_sha256,
)
from safetymonth.storage.schema import (
    attachments,
    checks,
    message_contents,
    message_digests,
    messages,
    meta,
    replies,
    source_cursors,
    source_keys,
    source_locks,
    workers,
)

# Message states. RECEIVED: raw stored, not yet (fully) processed.
RECEIVED, PROCESSED, FAILED, TOO_LARGE = "received", "processed", "failed", "too_large"
# Reply states.
QUEUED, SENT, REFUSED = "queued", "sent", "refused"


Clock = Callable[[], datetime]  # the current time, timezone-aware


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- what callers get and give --------------------------------------------------------------


@dataclass(frozen=True)
class MessageRecord:
    id: int
    source_key: str
    message_id: str | None
    sha256: str
    size: int
    sender: str | None
    sender_name: str | None
    unit: str | None
    auth: str | None
    suspicious: str | None
    subject: str | None
    date_header: str | None
    received_at: str
    state: str
    tries: int
    last_error: str | None
    no_reply: str | None
    notes: str | None
    not_credited: str | None
    claimed_by: str | None = None
    sender_domain: str | None = None
    held_until: str | None = None  # held for the digest until then (UTC)
    digest: str | None = None  # the digest reply that answered it
    credit_unit: str | None = None  # the unit credited now (storage.credit)
    reuses: int | None = None  # the earlier message whose Message-ID it reuses (other content)

    @property
    def claimed_unit(self) -> str | None:
        """The unit the From address matched, credited or not (kept in the notes)."""
        return self._note("claimed_unit")

    @property
    def bounces(self) -> list[dict[str, Any]]:
        """What a delivery-status report says bounced of our replies (kept in the notes)."""
        return list(self._note("bounces") or [])

    def _note(self, key: str) -> Any:
        try:
            return json.loads(self.notes or "{}").get(key)
        except (ValueError, AttributeError):
            return None


@dataclass(frozen=True)
class FileRecord:
    """One stored attachment with the validator's verdicts (a zip has one per member)."""

    id: int
    message: int
    position: int
    name: str
    stored_name: str
    sha256: str
    size: int
    content_type: str | None
    verdicts: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ReplyRecord:
    id: str
    message: int | None
    kind: str
    unit: str | None
    recipient: str
    headers: dict[str, str]
    body: bytes
    state: str
    attempts: int
    last_error: str | None
    created_at: str
    sent_at: str | None
    claimed_by: str | None


@dataclass(frozen=True)
class SenderCount:
    address: str
    messages: int


@dataclass(frozen=True)
class Received:
    """A raw message just stored, as :meth:`Repository.record_received` records it."""

    sha256: str
    size: int
    message_id: str | None
    sender: str | None
    sender_name: str | None
    subject: str
    date_header: str | None
    state: str = RECEIVED
    last_error: str | None = None
    content: str | None = None  # its content digest (mailbox.content); None: its sha256


@dataclass(frozen=True)
class Recorded:
    """What :meth:`Repository.record_received` found: the record and whether it is new, or a
    duplicate (the same message under another key)."""

    message: int
    new: bool
    duplicate: bool = False


@dataclass(frozen=True)
class NewAttachment:
    """An attachment stored and checked, for :meth:`Repository.record_verdicts`."""

    position: int
    name: str
    stored_name: str
    sha256: str
    size: int
    content_type: str
    verdicts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What intake decided about a message, for :meth:`Repository.record_outcome`."""

    state: str
    unit: str | None
    auth: str | None
    suspicious: str | None
    not_credited: str | None
    no_reply: str | None
    notes: dict[str, Any]
    last_error: str | None = None
    held_until: str | None = None  # held for the digest until its rate-limit window ends


# --- statements built once ------------------------------------------------------------------

# Intake and delivery run these for every message. Built once, with their values bound at
# execution, each is keyed and compiled once per dialect (SQLAlchemy's compiled cache) instead
# of being built, keyed and compiled again per call. A bound name never equals a column the
# statement sets: those are reserved for the SET clause.


def _free(column: Any) -> Any:
    """The claim in ``column`` is ours (bound as ``me``), nobody's, or a dead worker's (no
    heartbeat since ``alive_since``)."""
    live = select(workers.c.owner).where(workers.c.heartbeat_at >= bindparam("alive_since"))
    return or_(column.is_(None), column == bindparam("me"), column.not_in(live))


_MESSAGE = select(messages).where(messages.c.id == bindparam("message_"))
_MESSAGE_FOR_KEY = select(messages).join(source_keys, source_keys.c.message == messages.c.id) \
    .where(source_keys.c.key == bindparam("key_"))
_MESSAGE_OF_KEY = select(source_keys.c.message).where(source_keys.c.key == bindparam("key_"))
_MESSAGE_OF_DIGEST = select(message_digests.c.message) \
    .where(message_digests.c.sha256 == bindparam("digest"))
_MESSAGE_OF_CONTENT = select(message_contents.c.message) \
    .where(message_contents.c.content == bindparam("content_"))
# The earliest message with a Message-ID, evaluated as a new message is inserted.
_REUSED = select(func.min(messages.c.id)).where(
    messages.c.message_id == bindparam("reused_id")).scalar_subquery()
_CLAIM = update(messages).where(
    messages.c.id == bindparam("message_"), messages.c.state == RECEIVED,
    _free(messages.c.claimed_by)).values(
    claimed_by=bindparam("me"), tries=messages.c.tries + 1).returning(*messages.c)
_UPDATE_MESSAGE = update(messages).where(messages.c.id == bindparam("message_"))
_ATTACHMENTS_OF = select(attachments).where(attachments.c.message == bindparam("message_")) \
    .order_by(attachments.c.position)
_DELETE_CHECKS = checks.delete().where(checks.c.attachment.in_(
    select(attachments.c.id).where(attachments.c.message == bindparam("message_"))))
_DELETE_ATTACHMENTS = attachments.delete().where(
    attachments.c.message == bindparam("message_"))
# One INSERT for every file of a message; the ids come back in the files' order.
_INSERT_ATTACHMENTS = attachments.insert().returning(attachments.c.id,
                                                     sort_by_parameter_order=True)
_INSERT_CHECKS = checks.insert()
_REPLY = select(replies).where(replies.c.id == bindparam("reply"))
_CLAIM_REPLY = update(replies).where(
    replies.c.id == bindparam("reply"), replies.c.state == QUEUED,
    _free(replies.c.claimed_by)).values(claimed_by=bindparam("me"))
_RELEASE_REPLY = update(replies).where(
    replies.c.id == bindparam("reply"), replies.c.state == QUEUED,
    replies.c.claimed_by == bindparam("me")).values(claimed_by=None)
_MARK_SENT = update(replies).where(replies.c.id == bindparam("reply")).values(
    state=SENT, attempts=replies.c.attempts + 1, last_error=None, claimed_by=None)
_REPLIES_SINCE = select(func.count()).where(
    replies.c.recipient == bindparam("to"), replies.c.kind == bindparam("kind_"),
    replies.c.created_at >= bindparam("since"))


@cache
def _inserting(dialect: str, table: Any, key: tuple[str, ...], updating: tuple[str, ...] = (),
               returning: str | None = None) -> Any:
    """INSERT into ``table``, its values bound at execution: on a conflict over ``key``
    nothing (returning the column ``returning``, else the first of ``key``, when inserted),
    or the ``updating`` columns set to the new row's."""
    statement = _insert(dialect, table)
    if updating:
        return statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: statement.excluded[name] for name in updating})
    return statement.on_conflict_do_nothing(index_elements=list(key)) \
        .returning(table.c[returning or key[0]])


@cache
def _inserting_message(dialect: str) -> Any:
    """INSERT a message unless its source key is taken, returning its id, with ``reuses``
    set in the same statement to the earliest message with its Message-ID (bound as
    ``reused_id``): a new message costs no extra lookup."""
    statement = _insert(dialect, messages).values(reuses=_REUSED)
    return statement.on_conflict_do_nothing(index_elements=["source_key"]) \
        .returning(messages.c.id)


def _insert(dialect: str, table: Any) -> Any:
    """The dialect's INSERT (with ON CONFLICT). A dialect's module is imported when used:
    a poll on SQLite loads none of PostgreSQL's."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


# --- the repository -------------------------------------------------------------------------


class Repository(CreditQueries):
    def __init__(self, root: Path, url: str | None = None, password: str | None = None,
                 new_database: bool = False, clock: Clock = utc_now) -> None:
        """Open the store; a database that is missing while ``storage.dir`` holds messages
        is refused (never recreated silently) unless ``new_database`` says to start anew.
        ``clock`` times the outbox: when replies are queued, the rate limit's window and
        when a digest is due."""
        self.files = FileStore(root)
        self.clock = clock
        where = root / database.DB_NAME if url is None else url
        if url is None and not (root / database.DB_NAME).exists():
            self._refuse_a_lost_database(where, new_database)
            create_private_file(root / database.DB_NAME)  # 0600 before SQLite makes it
        self.engine = database.create(database.database_url(root, url), password)
        try:
            self.conn = self.engine.connect()
            if url is not None and database.revision(self.conn) is None:
                self._refuse_a_lost_database(where, new_database)
            database.upgrade(self.conn)
        except DBAPIError as error:
            self.engine.dispose()
            raise database.explain(error, where) from None
        except BaseException:
            self.engine.dispose()
            raise
        self._depth = 0  # transaction() nesting
        self._batch = False
        self._me: claims.Identity | None = None  # registered as a worker at the first claim
        self._heartbeat: claims.Heartbeat | None = None
        self._registering = False  # registered inside the current transaction

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
            self._retire()
        finally:
            self.files.close()
            self.conn.close()
            self.engine.dispose()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    # --- transactions -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (SQLite: BEGIN IMMEDIATE), rolled back on any exception.
        Inside another it is part of that one, which commits or rolls back the whole."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._end_read()
        self.conn.info[WRITE] = True
        self._depth = 1
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
            self._depth = 0
            self._registering = False
            self.conn.info[WRITE] = False

    def _end_read(self) -> None:
        if not self._depth and self.conn.in_transaction():
            self.conn.rollback()

    def _all(self, statement: Any, parameters: Any = None) -> Sequence[Row[Any]]:
        rows = self.conn.execute(statement, parameters).all()
        self._end_read()
        return rows

    def _one(self, statement: Any, parameters: Any = None) -> Row[Any] | None:
        row = self.conn.execute(statement, parameters).first()
        self._end_read()
        return row

    def _write(self, statement: Any, parameters: Any = None) -> int:
        """Run one statement in (or as) a write transaction; returns the rows it touched."""
        with self.transaction():
            return int(self.conn.execute(statement, parameters).rowcount)

    def _insert_ignoring(self, table: Any, key: list[str], values: dict[str, Any]) -> bool:
        """INSERT unless a row with the same ``key`` exists; True when inserted."""
        statement = _inserting(self.dialect, table, tuple(key))
        with self.transaction():  # RETURNING, since an INSERT's rowcount is not portable
            return self.conn.execute(statement, values).first() is not None

    def _upsert(self, table: Any, key: list[str], values: dict[str, Any]) -> None:
        self._write(_inserting(self.dialect, table, tuple(key),
                               tuple(name for name in values if name not in key)), values)

    # --- workers and claims -----------------------------------------------------------

    @property
    def owner(self) -> str:
        """This process as a worker, registered (and its heartbeat started) on first use.
        Registered inside a caller's transaction, it is undone with that transaction."""
        if self._me is None:
            me = claims.this_process()
            self._registering = self._depth > 0
            with self.transaction():
                self._reap(me.host)
                self.conn.execute(workers.insert().values(
                    owner=me.owner, host=me.host, pid=me.pid, started=me.started,
                    heartbeat_at=claims.timestamp()))
            self._me = me
            self._heartbeat = claims.Heartbeat(self.engine, me.owner,
                                               busy=lambda: self._depth > 0)
        return self._me.owner

    def register(self) -> str:
        """Register this process as a worker now (outside any transaction), for its claims."""
        return self.owner

    def _forget_registration(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self._me = self._heartbeat = None

    @property
    def _host(self) -> str:
        self.owner  # noqa: B018 (registers)
        assert self._me is not None
        return self._me.host

    def _reap(self, host: str) -> None:
        """Forget this host's workers whose process is gone (killed, crashed)."""
        dead = [row.owner for row in self.conn.execute(
            select(workers).where(workers.c.host == host))
            if not claims.alive_here(row.pid, row.started)]
        if dead:
            self.conn.execute(workers.delete().where(workers.c.owner.in_(dead)))

    def _retire(self) -> None:
        """Release this worker's claims and leave (a clean exit frees them at once)."""
        if self._me is None:
            return
        owner = self._me.owner
        self._forget_registration()
        self._end_read()
        with self.transaction():
            for table in (messages, replies):
                self.conn.execute(update(table).where(table.c.claimed_by == owner)
                                  .values(claimed_by=None))
            self.conn.execute(source_locks.delete().where(source_locks.c.owner == owner))
            self.conn.execute(workers.delete().where(workers.c.owner == owner))
        self._me = None

    def _claimant(self) -> dict[str, str]:
        """The values :func:`_free` binds: this worker, and since when a live one beats."""
        return {"me": self.owner, "alive_since": claims.timestamp(claims.LEASE)}

    def claim(self, message: int) -> MessageRecord | None:
        """Claim a received message for processing, counting the try (so a message that kills
        its process still fails in the end); returns it, or None when a live worker holds
        it."""
        claimant = self._claimant()
        with self.transaction():
            row = self.conn.execute(_CLAIM, {"message_": message, **claimant}).first()
        return _message(row) if row else None

    def claim_next(self, max_tries: int,
                   skipping: Iterable[int] = ()) -> MessageRecord | None:
        """Claim the oldest received message that has tries left and no live claim (one left
        half done by a crash, or queued for a retry), or None. PostgreSQL skips rows another
        transaction is claiming; SQLite's write lock lets one process at a time choose."""
        owner = self.owner
        with self.transaction():
            self._reap(self._host)
            candidate = select(messages.c.id).where(
                messages.c.state == RECEIVED, messages.c.tries < max_tries,
                _free(messages.c.claimed_by), messages.c.id.not_in(list(skipping))
            ).order_by(messages.c.id).limit(1)
            if self.dialect == "postgresql":
                candidate = candidate.with_for_update(skip_locked=True)
            row = self.conn.execute(candidate, self._claimant()).first()
            if row is None:
                return None
            self.conn.execute(update(messages).where(messages.c.id == row.id).values(
                claimed_by=owner, tries=messages.c.tries + 1))
            return self.message(row.id)

    def release(self, message: int) -> None:
        """Give back a message claimed but not worked on (its try not counted)."""
        self._write(update(messages).where(
            messages.c.id == message, messages.c.claimed_by == self.owner).values(
            claimed_by=None, tries=messages.c.tries - 1))

    def claim_replies(self, *reply_ids: str) -> set[str]:
        """Claim queued replies before handing them to the transport, in one transaction;
        returns those claimed (not the ones sent meanwhile or being sent by a live worker)."""
        claimant = self._claimant()
        with self.transaction():
            return {reply_id for reply_id in reply_ids if self.conn.execute(
                _CLAIM_REPLY, {"reply": reply_id, **claimant}).rowcount == 1}

    def release_replies(self, *reply_ids: str) -> None:
        """Give back replies claimed but not handed to the transport."""
        if reply_ids:
            with self.transaction():
                self.conn.execute(_RELEASE_REPLY, [{"reply": reply_id, "me": self.owner}
                                                   for reply_id in reply_ids])

    def hold_source(self, source: str, label: str) -> None:
        """Become the one watcher of ``source``; raises :class:`SourceHeldError` naming the
        live worker that watches it (and the source, as ``label``)."""
        owner = self.owner
        live = select(workers.c.owner).where(
            workers.c.heartbeat_at >= claims.timestamp(claims.LEASE))
        statement = _insert(self.dialect, source_locks).values(source=source, owner=owner)
        statement = statement.on_conflict_do_update(
            index_elements=["source"], set_={"owner": statement.excluded.owner},
            where=or_(source_locks.c.owner == owner, source_locks.c.owner.not_in(live))
        ).returning(source_locks.c.owner)
        with self.transaction():
            self._reap(self._host)
            if self.conn.execute(statement).first() is not None:
                return
            holder = self.conn.execute(select(workers.c.host, workers.c.pid).join(
                source_locks, source_locks.c.owner == workers.c.owner)
                .where(source_locks.c.source == source)).first()
        host, pid = holder if holder else ("?", 0)
        raise SourceHeldError(str(host), int(pid), label)

    # --- durability -------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Batch mode (see the module docstring): no fsync per file or commit; call
        :meth:`barrier` before any irreversible step. Leaving the block is a barrier too."""
        if self._batch:
            yield
            return
        self._batch = True
        database.set_sqlite_sync(self.conn, "NORMAL")
        try:
            with self.files.deferred():
                yield
                self.barrier()
        finally:
            self._batch = False
            database.set_sqlite_sync(self.conn, "FULL")

    def barrier(self) -> None:
        """Make everything written so far durable across a power loss; raises if anything
        could not be (a file this process wrote that failed is removed)."""
        if self._batch:
            self.finish_barrier(self.start_barrier())

    def start_barrier(self) -> Future[list[Path]]:
        """The file half of :meth:`barrier`, in a background thread; pass the result to
        :meth:`finish_barrier` before the irreversible step."""
        return self.files.start_sync()

    def finish_barrier(self, files: Future[list[Path]]) -> None:
        """Wait for the files of :meth:`start_barrier`, then make the database durable."""
        self.files.finish_sync(files)
        if not self._batch or self.dialect != "sqlite":
            return  # PostgreSQL: every commit is durable already
        self._end_read()
        database.set_sqlite_sync(self.conn, "FULL")
        try:
            self._upsert(meta, ["key"], {"key": "barrier", "value": now()})
        finally:
            database.set_sqlite_sync(self.conn, "NORMAL")

    # --- files ------------------------------------------------------------------------

    def put_bytes(self, data: bytes, kind: str = FILES_DIR) -> tuple[str, str]:
        return self.files.put_bytes(data, kind)

    def put_raw(self, data: bytes) -> str:
        """Store a raw message; returns its sha256."""
        return self.files.put_bytes(data, RAW_DIR)[0]

    def put_stream(self, chunks: Iterable[bytes]) -> tuple[str, str, int]:
        return self.files.put_stream(chunks)

    def path(self, stored_name: str) -> Path:
        return self.files.path(stored_name)

    def raw_path(self, sha256: str) -> Path:
        return self.files.raw_path(sha256)

    def intact(self, message: MessageRecord) -> bool:
        """The message's raw file and attachment files exist with their recorded sizes (a
        power loss before a barrier can lose files whose records survived)."""
        if message.state != TOO_LARGE and not self.files.has(
                f"{RAW_DIR}/{message.sha256[:2]}/{message.sha256}", message.size):
            return False
        return all(self.files.has(item.stored_name, item.size)
                   for item in self.attachments(message.id))

    # --- messages: intake -------------------------------------------------------------

    def message(self, message: int) -> MessageRecord | None:
        row = self._one(_MESSAGE, {"message_": message})
        return _message(row) if row else None

    def message_for_key(self, key: str) -> MessageRecord | None:
        row = self._one(_MESSAGE_FOR_KEY, {"key_": key})
        return _message(row) if row else None

    def find_duplicate(self, sha256: str, content: str | None = None) -> int | None:
        """A message already recorded: the same bytes, or the same content (the message
        without its trace fields). The same Message-ID alone is no duplicate."""
        row = self._one(_MESSAGE_OF_DIGEST, {"digest": sha256})
        if row is None and content:
            row = self._one(_MESSAGE_OF_CONTENT, {"content_": content})
        return int(row[0]) if row else None

    def record_received(self, key: str, received: Received) -> Recorded:
        """Record a newly stored raw message under its source key, claimed by this worker.
        A message already recorded (the same key, bytes or content, perhaps by another process
        a moment ago) is not recorded again: its record is
        returned, and ``key`` becomes another of its keys. A new message with the Message-ID
        of an earlier one notes it (``reuses``)."""
        with self.transaction():
            # Inserted first and looked up only on a conflict: a new message (nearly every
            # one) costs no lookups, and a known one is found by the key it collided on.
            try:
                with self.conn.begin_nested():  # undone whole if one of its keys is taken
                    message = self._insert_message(key, received)
            except _TakenMeanwhile:
                known = self._known(key, received)
                assert known is not None
                return known
        return Recorded(message, new=True)

    def _known(self, key: str, received: Received) -> Recorded | None:
        row = self.conn.execute(_MESSAGE_OF_KEY, {"key_": key}).first()
        if row is not None:
            return Recorded(int(row[0]), new=False)
        duplicate = self.find_duplicate(received.sha256, received.content)
        if duplicate is None:
            return None
        self.add_source_key(key, duplicate)
        return Recorded(duplicate, new=False, duplicate=True)

    def _insert_message(self, key: str, received: Received) -> int:
        """INSERT the message and each of its unique keys, or raise :class:`_TakenMeanwhile`
        when one of them is taken (by a record of this message, or another transaction's)."""
        row = self.conn.execute(_inserting_message(self.dialect), dict(
            reused_id=received.message_id,
            source_key=key, received_at=now(), message_id=received.message_id,
            sha256=received.sha256, size=received.size, sender=received.sender,
            sender_name=received.sender_name, sender_domain=_domain(received.sender),
            subject=received.subject, date_header=received.date_header, state=received.state,
            last_error=received.last_error, claimed_by=self.owner)).first()
        if row is None:
            raise _TakenMeanwhile
        message = int(row[0])
        keys = [(message_digests, ["sha256"], {"sha256": received.sha256}),
                (message_contents, ["content"], {"content": received.content or received.sha256}),
                (source_keys, ["key"], {"key": key, "seen_at": now()})]
        for table, columns, values in keys:
            if not self._insert_ignoring(table, columns, {**values, "message": message}):
                raise _TakenMeanwhile
        return message

    def add_source_key(self, key: str, message: int) -> None:
        """Another source key (folder, re-delivery, new UIDVALIDITY) for a known message."""
        self._insert_ignoring(source_keys, ["key"],
                              {"key": key, "message": message, "seen_at": now()})

    def source_keys(self, message: int) -> list[str]:
        """Every key the message was seen under, in order."""
        return [str(row[0]) for row in self._all(
            select(source_keys.c.key).where(source_keys.c.message == message)
            .order_by(source_keys.c.key))]

    def fail_try(self, message: int, error: str, max_tries: int) -> str:
        """Record the error; past ``max_tries`` the message is marked failed. Returns state."""
        self._write(update(messages).where(messages.c.id == message).values(
            last_error=error[:2000], claimed_by=None,
            state=case((messages.c.tries >= max_tries, FAILED), else_=messages.c.state)))
        record = self.message(message)
        assert record is not None
        return record.state

    def give_up(self, max_tries: int) -> list[MessageRecord]:
        """Messages whose tries ran out while their process was dying: mark them failed."""
        stale = (messages.c.state == RECEIVED) & (messages.c.tries >= max_tries) & \
            _free(messages.c.claimed_by)
        claimant = self._claimant()
        with self.transaction():
            rows = self.conn.execute(select(messages).where(stale), claimant).all()
            self.conn.execute(update(messages).where(stale).values(
                state=FAILED, last_error=func.coalesce(
                    messages.c.last_error, "the process stopped while handling this message")),
                claimant)
        return [_message(row) for row in rows]

    def retry_failed(self) -> int:
        """Put failed messages back in the queue (``poll --retry-failed``)."""
        return self._write(update(messages).where(messages.c.state == FAILED)
                           .values(state=RECEIVED, tries=0))

    @keeps_credit
    def restart(self, message: int) -> None:
        """Process a message again from its stored raw copy (its files were lost)."""
        self._write(update(messages).where(messages.c.id == message)
                    .values(state=RECEIVED, tries=0))

    @keeps_credit
    def replace_raw(self, message: int, sha256: str, size: int,
                    content: str | None = None) -> None:
        """A message recorded from its header only is now stored whole: process it."""
        with self.transaction():
            self.conn.execute(update(messages).where(messages.c.id == message).values(
                sha256=sha256, size=size, state=RECEIVED, tries=0, last_error=None))
            self._insert_ignoring(message_digests, ["sha256"],
                                  {"sha256": sha256, "message": message})
            if content:
                self._insert_ignoring(message_contents, ["content"],
                                      {"content": content, "message": message})

    def record_verdicts(self, message: int, files: list[NewAttachment]) -> None:
        """The message's attachments, their verdicts and one check row per verdict
        (replacing whatever an earlier, interrupted try recorded for the message)."""
        with self.transaction():
            self.conn.execute(_DELETE_CHECKS, {"message_": message})
            self.conn.execute(_DELETE_ATTACHMENTS, {"message_": message})
            if not files:
                return
            ids = self.conn.execute(_INSERT_ATTACHMENTS, [dict(
                message=message, position=item.position, name=item.name,
                stored_name=item.stored_name, sha256=item.sha256, size=item.size,
                content_type=item.content_type,
                verdict=json.dumps(item.verdicts, ensure_ascii=False)) for item in files]).all()
            rows = [{"attachment": int(attachment), "path": verdict["path"],
                     "kind": verdict["kind"], "ok": int(bool(verdict["ok"])),
                     "message": message, "member": verdict.get("member"),
                     "content": content_id(item.sha256, item.name, verdict["path"],
                                           _shared_name(item.verdicts, verdict))}
                    for (attachment,), item in zip(ids, files, strict=True)
                    for verdict in item.verdicts]
            if rows:
                self.conn.execute(_INSERT_CHECKS, rows)

    @keeps_credit
    def record_outcome(self, message: int, outcome: Outcome) -> None:
        """Whose submission it is, why no reply, and the message's final state."""
        self._write(_UPDATE_MESSAGE, dict(
            message_=message, state=outcome.state, unit=outcome.unit, auth=outcome.auth,
            claimed_by=None, suspicious=outcome.suspicious, not_credited=outcome.not_credited,
            no_reply=outcome.no_reply, last_error=outcome.last_error,
            held_until=outcome.held_until,
            notes=json.dumps(outcome.notes, ensure_ascii=False)))

    def attachments(self, message: int) -> list[FileRecord]:
        return [_file(row) for row in self._all(_ATTACHMENTS_OF, {"message_": message})]

    # --- messages: the report ---------------------------------------------------------

    def messages(self) -> list[MessageRecord]:
        """Every message, oldest first."""
        return [_message(row) for row in self._all(select(messages).order_by(messages.c.id))]

    def unknown_senders(self) -> list[SenderCount]:
        """Senders of processed mail credited to no unit now (and neither forged nor a
        machine), with how many messages each sent."""
        return [SenderCount(sender, count) for sender, count in self.unknown_senders_now()]

    def suspicious_messages(self) -> list[MessageRecord]:
        return self._where(messages.c.suspicious.is_not(None))

    def machine_messages(self) -> list[MessageRecord]:
        """Messages a machine wrote (RFC 3834), credited to no unit."""
        return self._where(messages.c.not_credited.is_not(None))

    def unanswered_messages(self) -> list[MessageRecord]:
        """Messages that got no reply, each with why (``no_reply``); a held one only until
        its digest is queued."""
        return self._where(messages.c.no_reply.is_not(None) & messages.c.digest.is_(None))

    def failed_messages(self) -> list[MessageRecord]:
        """Failed for good, or too large to take in."""
        return self._where(messages.c.state.in_((FAILED, TOO_LARGE)))

    def bounce_reports(self) -> list[MessageRecord]:
        """Delivery-status reports in which intake found bounces of our own mail."""
        return self._where(messages.c.notes.like('%"bounces"%'))

    def _where(self, condition: Any) -> list[MessageRecord]:
        return [_message(row) for row in self._all(
            select(messages).where(condition).order_by(messages.c.id))]

    # --- replies (the outbox) ---------------------------------------------------------

    def queue_reply(self, reply_id: str, message: int | None, kind: str, unit: str | None,
                    recipient: str, headers: dict[str, str], body: bytes) -> bool:
        """Queue a reply unless one with this id was queued before (then False)."""
        return self._insert_ignoring(replies, ["id"], {
            "id": reply_id, "message": message, "kind": kind, "unit": unit,
            "recipient": recipient.lower(), "headers": json.dumps(headers, ensure_ascii=False),
            "body": body, "state": QUEUED, "created_at": self._now()})

    def reply(self, reply_id: str) -> ReplyRecord | None:
        row = self._one(_REPLY, {"reply": reply_id})
        return _reply(row) if row else None

    def queued_replies(self) -> list[ReplyRecord]:
        return [_reply(row) for row in self._all(
            select(replies).where(replies.c.state == QUEUED)
            .order_by(replies.c.created_at, replies.c.id))]

    def queued_reply_count(self) -> int:
        row = self._one(select(func.count()).where(replies.c.state == QUEUED))
        return int(row[0]) if row else 0

    def replies(self) -> list[ReplyRecord]:
        """Every reply and reminder, oldest first."""
        return [_reply(row) for row in self._all(
            select(replies).order_by(replies.c.created_at, replies.c.id))]

    def mark_sent(self, *reply_ids: str) -> None:
        if not reply_ids:
            return
        sent_at = now()
        with self.transaction():
            self.conn.execute(_MARK_SENT, [{"reply": reply_id, "sent_at": sent_at}
                                           for reply_id in reply_ids])

    def mark_attempt_failed(self, reply_id: str, error: str, permanent: bool = False) -> None:
        self._write(update(replies).where(replies.c.id == reply_id).values(
            attempts=replies.c.attempts + 1, last_error=error[:2000], claimed_by=None,
            state=REFUSED if permanent else QUEUED))

    def _now(self) -> str:
        return self.clock().astimezone(UTC).isoformat(timespec="seconds")

    def replies_since(self, recipient: str, kind: str, hours: float) -> int:
        since = (self.clock() - timedelta(hours=hours)).astimezone(UTC).isoformat(
            timespec="seconds")
        row = self._one(_REPLIES_SINCE, {"to": recipient.lower(), "kind_": kind,
                                         "since": since})
        return int(row[0]) if row else 0

    def rate_window_end(self, recipient: str, kind: str, hours: float, count: int) -> str:
        """When ``recipient``, who got ``count`` replies of ``kind`` within ``hours``, falls
        under the limit again: the ``count``-th latest of them leaves the window then."""
        row = self._one(select(replies.c.created_at).where(
            replies.c.recipient == recipient.lower(), replies.c.kind == kind)
            .order_by(replies.c.created_at.desc()).offset(count - 1).limit(1))
        start = datetime.fromisoformat(row[0]) if row else self.clock()
        return (start + timedelta(hours=hours)).astimezone(UTC).isoformat(timespec="seconds")

    def due_digests(self) -> list[MessageRecord]:
        """Held messages whose window has ended and that no digest answers yet, by id."""
        return self._where(messages.c.held_until.is_not(None) & messages.c.digest.is_(None) &
                           (messages.c.held_until <= self._now()))

    def next_digest_due(self) -> datetime | None:
        """When the earliest window of a held message still unanswered ends."""
        row = self._one(select(func.min(messages.c.held_until)).where(
            messages.c.held_until.is_not(None), messages.c.digest.is_(None),
            messages.c.sender.is_not(None)))
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def queue_digest(self, reply_id: str, unit: str | None, recipient: str,
                     headers: dict[str, str], body: bytes, held: Sequence[int]) -> bool:
        """Queue the digest answering the ``held`` messages, exactly once: False (and
        nothing queued) when its id was queued before or any of them is answered already,
        by another poller meanwhile (its next pass composes from what is left)."""
        try:
            with self.transaction():
                if not self.queue_reply(reply_id, None, "digest", unit, recipient, headers,
                                        body):
                    return False
                answered = self.conn.execute(update(messages).where(
                    messages.c.id.in_(list(held)), messages.c.digest.is_(None))
                    .values(digest=reply_id)).rowcount
                if answered != len(held):
                    raise _TakenMeanwhile
        except _TakenMeanwhile:
            return False
        return True

    def last_reply_at(self, unit: str, kind: str) -> str | None:
        row = self._one(select(func.max(replies.c.created_at)).where(
            replies.c.unit == unit, replies.c.kind == kind))
        return row[0] if row else None

    # --- sources ----------------------------------------------------------------------

    def source_cursor(self, source: str) -> str | None:
        """How far ``source`` has read, as the source itself wrote it."""
        row = self._one(select(source_cursors.c.cursor)
                        .where(source_cursors.c.source == source))
        return str(row[0]) if row else None

    def save_source_cursor(self, source: str, cursor: str) -> None:
        self._upsert(source_cursors, ["source"], {"source": source, "cursor": cursor})

    # --- operations: verify and repair ------------------------------------------------

    def stored_sha256(self, stored_name: str) -> str | None:
        """The SHA-256 of a stored file as it is on disk; None when it is missing."""
        return file_sha256(self.files.path(stored_name))

    def discard(self, stored_name: str) -> None:
        self.files.discard(stored_name)


def open_repository(config: Config, new_database: bool = False,
                    clock: Clock = utc_now) -> Repository:
    """The store of ``config``: ``storage.dir`` and ``storage.database``, its unit registry
    synced from ``units[]`` (credit follows the current registry)."""
    repository = Repository(config.storage_dir, config.database_url,
                            config.storage.password(), new_database, clock)
    try:
        repository.sync_registry([RegistryUnit(unit.key, unit.name, tuple(unit.emails))
                                  for unit in config.units])
    except BaseException:
        repository.close()
        raise
    return repository


class _TakenMeanwhile(Exception):
    """One of a new message's unique keys is taken: the message is recorded already."""


# --- rows to records ------------------------------------------------------------------------


def _domain(sender: str | None) -> str | None:
    return "@" + sender.rsplit("@", 1)[1] if sender and "@" in sender else None


def _message(row: Row[Any]) -> MessageRecord:
    return MessageRecord(**row._mapping)


def _file(row: Row[Any]) -> FileRecord:
    values = dict(row._mapping)
    values["verdicts"] = tuple(json.loads(values.pop("verdict")))
    return FileRecord(**values)


def _reply(row: Row[Any]) -> ReplyRecord:
    values = dict(row._mapping)
    values["headers"] = json.loads(values["headers"])
    values["body"] = bytes(values["body"])
    return ReplyRecord(**values)


def _shared_name(verdicts: list[dict[str, Any]], verdict: dict[str, Any]) -> int | None:
    """A zip member's index when another member of its zip has the same name (its content is
    then told apart by position: see :func:`~safetymonth.storage.credit.content_id`)."""
    if verdict.get("member") is None:
        return None
    same = sum(1 for other in verdicts if other["path"] == verdict["path"])
    return verdict["member"] if same > 1 else None
