"""The repository: every read and write of the store's state, named for its purpose; a
facade over parts that each keep one purpose's SQL (:mod:`~safetymonth.storage.messages`,
:mod:`~safetymonth.storage.replies`, :mod:`~safetymonth.storage.claiming`,
:mod:`~safetymonth.storage.credit`, :mod:`~safetymonth.storage.decisions`,
:mod:`~safetymonth.storage.listings`, :mod:`~safetymonth.storage.uploads`), all over one
:class:`~safetymonth.storage.session.Session`. Callers call ``store.method(...)``: each method
is the part's own (see :data:`FORWARDED`).

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

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from safetymonth.config import Config
from safetymonth.deliverables import deliverables_of
from safetymonth.storage import database
from safetymonth.storage.assignment import Assignments
from safetymonth.storage.claiming import Claims
from safetymonth.storage.credit import Credit
from safetymonth.storage.decisions import Decisions
from safetymonth.storage.files import FILES_DIR, RAW_DIR, FileStore, file_sha256
from safetymonth.storage.listings import Listings
from safetymonth.storage.messages import Messages
from safetymonth.storage.records import (
    FAILED,
    PROCESSED,
    QUEUED,
    RECEIVED,
    REFUSED,
    SENT,
    TOO_LARGE,
    FileRecord,
    MessageRecord,
    NewAttachment,
    Outcome,
    Received,
    Recorded,
    RegistryUnit,
    ReplyRecord,
    SenderCount,
)
from safetymonth.storage.replies import Replies
from safetymonth.storage.schema import meta
from safetymonth.storage.session import Clock, Session, now
from safetymonth.storage.uploads import Uploads
from safetymonth.targets import credit_targets

__all__ = ["FAILED", "PROCESSED", "QUEUED", "RECEIVED", "REFUSED", "SENT", "TOO_LARGE",
           "Clock", "FileRecord", "MessageRecord", "NewAttachment", "Outcome", "Received",
           "Recorded", "ReplyRecord", "Repository", "SenderCount", "now", "open_repository",
           "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Parts:
    """The repository's parts, each named for its purpose."""

    messages: Messages
    replies: Replies
    claims: Claims
    credit: Credit
    decisions: Decisions
    listings: Listings
    uploads: Uploads
    assignments: Assignments


# Which part answers each of the repository's methods.
FORWARDED: dict[str, tuple[str, ...]] = {
    "messages": (
        "message", "message_for_key", "messages_for_keys", "find_duplicate",
        "record_received", "add_source_key", "source_keys", "fail_try", "give_up",
        "retry_failed", "restart", "replace_raw",
        "record_verdicts", "record_outcome", "attachments", "record_added_message",
        "messages", "message_by_message_id", "suspicious_messages", "machine_messages",
        "unanswered_messages", "failed_messages", "bounce_reports", "cloud_link_messages"),
    "replies": (
        "queue_reply", "reply", "queued_replies", "queued_reply_count",
        "queued_replies_by_unit", "replies", "mark_sent", "mark_attempt_failed",
        "replies_since", "rate_window_end", "last_reply_at", "due_digests",
        "next_digest_due", "queue_digest"),
    "claims": (
        "register", "claim", "claim_next", "release", "claim_replies", "release_replies",
        "hold_source", "source_cursor", "save_source_cursor"),
    "credit": (
        "sync_registry", "refresh_credit", "unit_tallies", "unit_tally", "accepted_counts",
        "unknown_senders", "unknown_senders_now", "credited_unit", "latest_unit_sender"),
    "listings": ("message_views", "file_views"),
    "assignments": (
        "sync_deliverables", "deliverable_counts", "accepted_contents", "unassigned_files",
        "file_deliverables"),
    "decisions": (
        "record_decision", "decision", "decisions", "undo_decision", "active_decisions",
        "active_decisions_by_unit"),
    "uploads": (
        "issue_link", "live_links", "link_for_hash", "create_upload", "upload",
        "unit_uploads", "bytes_held", "creations_since", "advance_upload",
        "set_upload_state", "uploads_in"),
}


def _forward(part: str, name: str, of: type) -> Callable[..., Any]:
    """The repository's ``name``: the method of that name of its ``part``."""
    @wraps(getattr(of, name))
    def method(self: Repository, *args: Any, **kwargs: Any) -> Any:
        return getattr(getattr(self.parts, part), name)(*args, **kwargs)
    return method


class Repository:
    def __init__(self, root: Path, url: str | None = None, password: str | None = None,
                 new_database: bool = False, clock: Clock = utc_now) -> None:
        """Open the store; a database that is missing while ``storage.dir`` holds messages
        is refused (never recreated silently) unless ``new_database`` says to start anew.
        ``clock`` times the outbox (when replies are queued, the rate limit's window and
        when a digest is due) and when mail is received."""
        self.files = FileStore(root)
        self.clock = clock
        self.session = Session(self.files, url, password, new_database)
        credit, assignments = Credit(self.session), Assignments(self.session)
        self.parts = Parts(messages=Messages(self.session, credit, assignments, clock),
                           replies=Replies(self.session, clock), claims=Claims(self.session),
                           credit=credit,
                           decisions=Decisions(self.session, credit, assignments),
                           listings=Listings(self.session), assignments=assignments,
                           uploads=Uploads(self.session))
        self._batch = False

    def close(self) -> None:
        try:
            self.session.close()
        finally:
            self.files.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> Connection:
        return self.session.conn

    @property
    def engine(self) -> Engine:
        return self.session.engine

    @property
    def dialect(self) -> str:
        return self.session.dialect

    @property
    def owner(self) -> str:
        return self.session.owner

    def transaction(self) -> Any:
        """One write transaction (see :meth:`Session.transaction`)."""
        return self.session.transaction()

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
        self.session.end_read()
        database.set_sqlite_sync(self.conn, "FULL")
        try:
            self.session.upsert(meta, ["key"], {"key": "barrier", "value": now()})
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

    def adopt(self, path: Path, sha256: str, size: int) -> str:
        return self.files.adopt(path, sha256, size)

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

    # --- operations: verify and repair ------------------------------------------------

    def stored_sha256(self, stored_name: str) -> str | None:
        """The SHA-256 of a stored file as it is on disk; None when it is missing."""
        return file_sha256(self.files.path(stored_name))

    def discard(self, stored_name: str) -> None:
        self.files.discard(stored_name)


_PART_TYPES = {"messages": Messages, "replies": Replies, "claims": Claims, "credit": Credit,
               "decisions": Decisions, "listings": Listings, "assignments": Assignments,
               "uploads": Uploads}
for _part, _names in FORWARDED.items():
    for _name in _names:
        setattr(Repository, _name, _forward(_part, _name, _PART_TYPES[_part]))


def open_repository(config: Config, new_database: bool = False,
                    clock: Clock = utc_now) -> Repository:
    """The store of ``config``: ``storage.dir`` and ``storage.database``, its unit registry
    synced from ``units[]`` (credit follows the current registry) and its files assigned to
    the campaign's deliverables (as is credit, the assignment follows the config)."""
    repository = Repository(config.storage_dir, config.database_url,
                            config.storage.password(), new_database, clock)
    try:
        repository.sync_registry([RegistryUnit(unit.key, unit.name, tuple(unit.emails))
                                  for unit in credit_targets(config)])
        repository.sync_deliverables(deliverables_of(config.campaign))
    except BaseException:
        repository.close()
        raise
    return repository
