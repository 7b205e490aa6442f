"""The submission store: SQLite (WAL) plus content-addressed files under ``storage.dir``.

Every raw message and every attachment is a plain file named by its SHA-256, written
atomically (temp file, then rename), so a crash never leaves a half file under a real name.
The database holds the original names, the verdicts, the state and the outbox.

Durability where it matters. There are two kinds of failure, and they need different things:

- *The process dies* (kill -9, an OOM kill, a bug): what was written and renamed is in the
  kernel's page cache and survives; a WAL commit with ``synchronous=NORMAL`` survives too.
  Every commit and every rename is therefore already safe against this, without an fsync.
- *The machine dies* (power loss, kernel panic): only what was fsynced survives. Losing the
  last few records is harmless as long as the message is still on the server, unmarked: the
  next run fetches it again. The one step that cannot be undone is marking or moving the
  message on the server.

So intake writes in *batch mode* (:meth:`Store.batch`): files are renamed into place without
an fsync and commits run with ``synchronous=NORMAL``, and right before the server-side mark
:meth:`Store.barrier` fsyncs every file written since the last barrier and their directories,
then makes the database durable with a ``synchronous=FULL`` commit (which syncs the whole WAL,
earlier commits included). A failed fsync at the barrier raises, so nothing is marked. A file
this process wrote and could not make durable is removed as well, so the next run finds the
record incomplete (:meth:`Store.intact`) and stores the message again; a file that was merely
found in place is never removed (it may belong to a message already marked) and is synced
again at a later barrier. Outside batch mode (the CLI's other commands, tests, reminders),
every file is fsynced before its rename and every commit is FULL.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DB_NAME = "safetymonth.db"
RAW_DIR = "raw"
FILES_DIR = "files"
TMP_DIR = "tmp"
FSYNC_THREADS = 8
SMALL_FILE = 4 * 1024 * 1024  # put_stream keeps a file up to this size in memory

# Each entry migrates from version N (its index) to N + 1; never edit a released step.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        source_key TEXT NOT NULL UNIQUE,
        message_id TEXT,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        sender TEXT,
        sender_name TEXT,
        unit TEXT,
        auth TEXT,
        suspicious TEXT,
        subject TEXT,
        date_header TEXT,
        received_at TEXT NOT NULL,
        state TEXT NOT NULL,
        tries INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        no_reply TEXT,
        notes TEXT
    );
    CREATE INDEX messages_message_id ON messages(message_id);
    CREATE INDEX messages_sha256 ON messages(sha256);
    CREATE INDEX messages_unit ON messages(unit);
    CREATE TABLE source_keys (
        key TEXT PRIMARY KEY,
        message INTEGER NOT NULL REFERENCES messages(id),
        seen_at TEXT NOT NULL
    );
    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        message INTEGER NOT NULL REFERENCES messages(id),
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        stored_name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        content_type TEXT,
        verdict TEXT NOT NULL,
        UNIQUE (message, position)
    );
    CREATE TABLE checks (
        id INTEGER PRIMARY KEY,
        attachment INTEGER NOT NULL REFERENCES attachments(id),
        path TEXT NOT NULL,
        kind TEXT NOT NULL,
        ok INTEGER NOT NULL
    );
    CREATE TABLE replies (
        id TEXT PRIMARY KEY,
        message INTEGER REFERENCES messages(id),
        kind TEXT NOT NULL,
        unit TEXT,
        recipient TEXT NOT NULL,
        headers TEXT NOT NULL,
        body BLOB NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE INDEX replies_recipient ON replies(recipient, created_at);
    CREATE INDEX replies_state ON replies(state);
    CREATE TABLE source_state (
        source TEXT PRIMARY KEY,
        uidvalidity INTEGER NOT NULL,
        last_uid INTEGER NOT NULL
    );
    """,
    # 2: the per-unit tally joins checks by attachment; a row the durability barrier writes;
    # machine messages (RFC 3834) are recorded but credited to no unit.
    """
    CREATE INDEX checks_attachment ON checks(attachment);
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT
    );
    ALTER TABLE messages ADD COLUMN not_credited TEXT;
    """,
]

# Message states. RECEIVED: raw stored, not yet (fully) processed.
RECEIVED, PROCESSED, FAILED, TOO_LARGE = "received", "processed", "failed", "too_large"
# Reply states.
QUEUED, SENT, REFUSED = "queued", "sent", "refused"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class NewAttachment:
    position: int
    name: str
    stored_name: str
    sha256: str
    size: int
    content_type: str
    verdicts: list[dict[str, Any]]


class Store:
    """One open store. Not thread-safe: one per thread or process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in (RAW_DIR, FILES_DIR, TMP_DIR):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(root / DB_NAME, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        try:
            # Persistent; on a store already in WAL mode this takes no lock. The other two
            # pragmas are per connection.
            self.db.execute("PRAGMA journal_mode=WAL")
            # FULL outside batch mode; NORMAL inside it, with a FULL commit at each barrier.
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            self.db.close()
            raise
        # Files to sync at the next barrier (batch mode only, else None), each with whether
        # this process created it (renamed it into place) or merely found it there.
        self._unsynced: dict[Path, bool] | None = None
        self._temps = 0
        self._durable: set[Path] = set()  # synced by this process: no need to sync again
        self._syncer: ThreadPoolExecutor | None = None  # runs start_barrier's file syncs

    def close(self) -> None:
        if self._syncer is not None:
            self._syncer.shutdown()
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ------------------------------------------------------------------------

    def _migrate(self) -> None:
        """Bring the schema up to date. The version is read outside any transaction, so
        opening a current store takes no write lock (``report`` never waits for a ``poll``
        that is writing); the lock is taken, and the version read again under it, only when
        a migration is needed."""
        if self._schema_version() == len(MIGRATIONS):
            return
        with self.transaction():
            version = self._schema_version()  # another process may have migrated meanwhile
            for step in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={step + 1}")

    def _schema_version(self) -> int:
        version = self.version
        if version > len(MIGRATIONS):
            raise RuntimeError(f"store schema {version} is newer than this program")
        return version

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception. Inside another
        transaction it is part of that one (which commits or rolls back the whole)."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- files -------------------------------------------------------------------------

    def put_bytes(self, data: bytes, kind: str = FILES_DIR) -> tuple[str, str]:
        """Store ``data`` under its hash; returns (sha256, stored name relative to root)."""
        digest = hashlib.sha256(data).hexdigest()
        relative = f"{kind}/{digest[:2]}/{digest}"
        target = self.root / relative
        if not _has_size(target, len(data)):
            self._write_atomically(target, (data,))
        else:
            self._exists(target)
        return digest, relative

    def put_stream(self, chunks: Iterable[bytes], kind: str = FILES_DIR) -> tuple[str, str, int]:
        """Store a file given in pieces, never whole in memory; returns (sha256, stored name,
        size). The first ``SMALL_FILE`` bytes are gathered in memory, so a small file that is
        already stored costs no file at all; beyond that the pieces go to a temp file while
        hashed, which is renamed to its hash."""
        pieces = iter(chunks)
        head: list[bytes] = []
        size = 0
        for chunk in pieces:
            head.append(chunk)
            size += len(chunk)
            if size > SMALL_FILE:
                break
        else:
            data = b"".join(head)
            digest, relative = self.put_bytes(data, kind)
            return digest, relative, len(data)
        return self._put_large(itertools.chain(head, pieces), kind)

    def _put_large(self, chunks: Iterable[bytes], kind: str) -> tuple[str, str, int]:
        digest = hashlib.sha256()
        size = 0
        handle, temp = self._temp()
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                if self._unsynced is None:
                    out.flush()
                    os.fsync(out.fileno())
            hexdigest = digest.hexdigest()
            relative = f"{kind}/{hexdigest[:2]}/{hexdigest}"
            target = self.root / relative
            if _has_size(target, size):
                Path(temp).unlink()
                self._exists(target)
                return hexdigest, relative, size
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self._written(target)
        return hexdigest, relative, size

    def _write_atomically(self, target: Path, chunks: Iterable[bytes]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = self._temp()
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                if self._unsynced is None:
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self._written(target)

    def _temp(self) -> tuple[int, str]:
        """A new file in tmp/ (this process's id and a counter: cheaper than mkstemp's random
        names; O_EXCL still refuses a name left by an earlier process with the same id)."""
        while True:
            self._temps += 1
            name = str(self.root / TMP_DIR / f"{os.getpid()}.{self._temps}")
            try:
                return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), name
            except FileExistsError:
                continue

    def _exists(self, target: Path) -> None:
        """``target`` was already there. A process killed before its barrier may have left
        it in the page cache only: sync it at this process's next barrier, once. It is not
        ours to remove if that sync fails: it may belong to a message already marked."""
        if self._unsynced is not None and target not in self._durable:
            self._unsynced.setdefault(target, False)

    def _written(self, target: Path) -> None:
        if self._unsynced is not None:
            self._unsynced[target] = True  # created here: made durable at the next barrier
        else:
            _fsync_directory(target.parent)

    # --- durability ----------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Batch mode (see the module docstring): no fsync per file or commit; call
        :meth:`barrier` before any irreversible step. Leaving the block is a barrier too."""
        if self._unsynced is not None:
            yield
            return
        self._unsynced = {}
        self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
            self.barrier()
        finally:
            self._unsynced = None
            self.db.execute("PRAGMA synchronous=FULL")

    def barrier(self) -> None:
        """Make everything written so far durable across a power loss: every file written
        since the last barrier and its directory, then the database (a FULL commit syncs the
        WAL, and with it every earlier NORMAL commit). Raises if anything could not be made
        durable; a file this process wrote that failed is removed, so no unsynced file it
        created keeps a real name (a file found in place is left, and synced again later)."""
        if self._unsynced is not None:
            self.finish_barrier(self.start_barrier())

    def start_barrier(self) -> Future[list[Path]]:
        """The file half of :meth:`barrier`, in a background thread (fsync releases the GIL,
        so the disk works while intake goes on): syncs the files written so far. Pass the
        result to :meth:`finish_barrier` before the irreversible step."""
        pending, self._unsynced = self._unsynced, ({} if self._unsynced is not None
                                                   else None)
        if self._syncer is None:
            self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="barrier")
        pending = pending or {}
        return self._syncer.submit(_sync_files, sorted(pending),
                                   {path for path, created in pending.items() if created})

    def finish_barrier(self, files: Future[list[Path]]) -> None:
        """Wait for the files of :meth:`start_barrier`, then make the database durable."""
        self._durable.update(files.result())  # raises what the sync raised
        if self._unsynced is None:
            return
        self.db.execute("PRAGMA synchronous=FULL")
        try:
            with self.transaction():
                self.db.execute("INSERT INTO meta (key, value) VALUES ('barrier', ?) "
                                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                (now(),))
        finally:
            self.db.execute("PRAGMA synchronous=NORMAL")

    def intact(self, message: int) -> bool:
        """The message's raw file and attachment files exist with their recorded sizes (a
        power loss before a barrier can lose files whose records survived)."""
        row = self.message(message)
        if row is None:
            return False
        if row["state"] != TOO_LARGE and not _has_size(self.raw_path(row["sha256"]),
                                                       int(row["size"])):
            return False
        return all(_has_size(self.path(item["stored_name"]), int(item["size"]))
                   for item in self.attachments(message))

    def path(self, stored_name: str) -> Path:
        return self.root / stored_name

    def raw_path(self, sha256: str) -> Path:
        return self.root / RAW_DIR / sha256[:2] / sha256

    # --- messages ----------------------------------------------------------------------

    def message_for_key(self, key: str) -> sqlite3.Row | None:
        return self.db.execute(
            "SELECT m.* FROM source_keys k JOIN messages m ON m.id = k.message WHERE k.key = ?",
            (key,)).fetchone()

    def find_duplicate(self, message_id: str | None, sender: str | None,
                       sha256: str) -> int | None:
        """A message already recorded: same Message-ID from the same sender, or same bytes."""
        row = self.db.execute("SELECT id FROM messages WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None and message_id:
            row = self.db.execute(
                "SELECT id FROM messages WHERE message_id = ? AND sender IS ?",
                (message_id, sender)).fetchone()
        return int(row["id"]) if row else None

    def add_message(self, key: str, fields: dict[str, Any]) -> int:
        """Record a newly stored raw message (state received) under its source key."""
        with self.transaction():
            columns = {"source_key": key, "received_at": now(), "state": RECEIVED, **fields}
            names = ", ".join(columns)
            marks = ", ".join("?" for _ in columns)
            cursor = self.db.execute(f"INSERT INTO messages ({names}) VALUES ({marks})",
                                     tuple(columns.values()))
            message = int(cursor.lastrowid or 0)
            self._add_key(key, message)
        return message

    def add_alias(self, key: str, message: int) -> None:
        """Another source key (folder, re-delivery, new UIDVALIDITY) for a known message."""
        with self.transaction():
            self._add_key(key, message)

    def _add_key(self, key: str, message: int) -> None:
        self.db.execute("INSERT OR IGNORE INTO source_keys (key, message, seen_at) "
                        "VALUES (?, ?, ?)", (key, message, now()))

    def message(self, message: int) -> sqlite3.Row:
        return self.db.execute("SELECT * FROM messages WHERE id = ?", (message,)).fetchone()

    def unfinished(self, max_tries: int) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM messages WHERE state = ? AND tries < ? "
                               "ORDER BY id", (RECEIVED, max_tries)).fetchall()

    def begin_try(self, message: int) -> None:
        """Count a try before it starts, so a message that kills the process still fails."""
        with self.transaction():
            self.db.execute("UPDATE messages SET tries = tries + 1 WHERE id = ?", (message,))

    def fail_try(self, message: int, error: str, max_tries: int) -> str:
        """Record the error; past ``max_tries`` the message is marked failed. Returns state."""
        with self.transaction():
            self.db.execute(
                "UPDATE messages SET last_error = ?, state = CASE WHEN tries >= ? THEN ? "
                "ELSE state END WHERE id = ?", (error[:2000], max_tries, FAILED, message))
        return str(self.message(message)["state"])

    def give_up(self, max_tries: int) -> list[sqlite3.Row]:
        """Messages whose tries ran out while the process was dying: mark them failed."""
        with self.transaction():
            rows = self.db.execute("SELECT * FROM messages WHERE state = ? AND tries >= ?",
                                   (RECEIVED, max_tries)).fetchall()
            self.db.execute("UPDATE messages SET state = ?, last_error = coalesce(last_error, "
                            "'the process stopped while handling this message') "
                            "WHERE state = ? AND tries >= ?", (FAILED, RECEIVED, max_tries))
        return rows

    def retry_failed(self) -> int:
        """Put failed messages back in the queue (``poll --retry-failed``)."""
        with self.transaction():
            cursor = self.db.execute("UPDATE messages SET state = ?, tries = 0 WHERE state = ?",
                                     (RECEIVED, FAILED))
        return cursor.rowcount

    def update_message(self, message: int, fields: dict[str, Any]) -> None:
        sets = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE messages SET {sets} WHERE id = ?", (*fields.values(), message))

    def add_attachment(self, message: int, item: NewAttachment) -> None:
        """Inside a transaction: one attachment, its verdicts and one check row per verdict."""
        self.db.execute("DELETE FROM checks WHERE attachment IN (SELECT id FROM attachments "
                        "WHERE message = ? AND position = ?)", (message, item.position))
        self.db.execute("DELETE FROM attachments WHERE message = ? AND position = ?",
                        (message, item.position))
        cursor = self.db.execute(
            "INSERT INTO attachments (message, position, name, stored_name, sha256, size, "
            "content_type, verdict) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (message, item.position, item.name, item.stored_name, item.sha256, item.size,
             item.content_type, json.dumps(item.verdicts, ensure_ascii=False)))
        for verdict in item.verdicts:
            self.db.execute("INSERT INTO checks (attachment, path, kind, ok) VALUES (?, ?, ?, ?)",
                            (cursor.lastrowid, verdict["path"], verdict["kind"],
                             int(bool(verdict["ok"]))))

    def attachments(self, message: int) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM attachments WHERE message = ? ORDER BY position",
                               (message,)).fetchall()

    def unit_tally(self, unit: str) -> dict[tuple[str, bool], int]:
        """The number of verdicts credited to ``unit`` per (kind, ok), counted in SQL."""
        rows = self.db.execute(
            "SELECT c.kind, c.ok, count(*) FROM messages m JOIN attachments a "
            "ON a.message = m.id JOIN checks c ON c.attachment = a.id WHERE m.unit = ? "
            "AND m.state = ? AND m.suspicious IS NULL GROUP BY c.kind, c.ok",
            (unit, PROCESSED)).fetchall()
        return {(str(row[0]), bool(row[1])): int(row[2]) for row in rows}

    def unit_has(self, unit: str, kind: str, count: int) -> bool:
        """Whether ``unit`` has at least ``count`` accepted files of ``kind``; stops at the
        count, so it costs the same however much the unit has sent."""
        if count <= 0:
            return True
        row = self.db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM messages m JOIN attachments a "
            "ON a.message = m.id JOIN checks c ON c.attachment = a.id WHERE m.unit = ? "
            "AND m.state = ? AND m.suspicious IS NULL AND c.kind = ? AND c.ok = 1 LIMIT ?)",
            (unit, PROCESSED, kind, count)).fetchone()
        return int(row[0]) >= count

    def messages(self, where: str = "1", params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self.db.execute(f"SELECT * FROM messages WHERE {where} ORDER BY id",
                               params).fetchall()

    # --- replies (the outbox) ----------------------------------------------------------

    def queue_reply(self, reply_id: str, message: int | None, kind: str, unit: str | None,
                    recipient: str, headers: dict[str, str], body: bytes) -> bool:
        """Inside a transaction; False when this reply was queued before."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO replies (id, message, kind, unit, recipient, headers, body, "
            "state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (reply_id, message, kind, unit, recipient.lower(),
             json.dumps(headers, ensure_ascii=False), body, QUEUED, now()))
        return cursor.rowcount == 1

    def queued_replies(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM replies WHERE state = ? ORDER BY created_at, id",
                               (QUEUED,)).fetchall()

    def replies(self, where: str = "1", params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self.db.execute(f"SELECT * FROM replies WHERE {where} ORDER BY created_at, id",
                               params).fetchall()

    def mark_sent(self, *reply_ids: str) -> None:
        with self.transaction():
            sent_at = now()
            self.db.executemany("UPDATE replies SET state = ?, sent_at = ?, "
                                "attempts = attempts + 1, last_error = NULL WHERE id = ?",
                                [(SENT, sent_at, reply_id) for reply_id in reply_ids])

    def mark_attempt_failed(self, reply_id: str, error: str, permanent: bool = False) -> None:
        with self.transaction():
            self.db.execute("UPDATE replies SET attempts = attempts + 1, last_error = ?, "
                            "state = ? WHERE id = ?",
                            (error[:2000], REFUSED if permanent else QUEUED, reply_id))

    def replies_since(self, recipient: str, kind: str, hours: float) -> int:
        since = (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="seconds")
        row = self.db.execute("SELECT count(*) FROM replies WHERE recipient = ? AND kind = ? "
                              "AND created_at >= ?", (recipient.lower(), kind, since)).fetchone()
        return int(row[0])

    def last_reply_for_unit(self, unit: str, kind: str) -> str | None:
        row = self.db.execute("SELECT max(created_at) FROM replies WHERE unit = ? AND kind = ?",
                              (unit, kind)).fetchone()
        return row[0]

    # --- incremental IMAP state -------------------------------------------------------

    def source_state(self, source: str) -> tuple[int, int] | None:
        row = self.db.execute("SELECT uidvalidity, last_uid FROM source_state WHERE source = ?",
                              (source,)).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def set_source_state(self, source: str, uidvalidity: int, last_uid: int) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO source_state (source, uidvalidity, last_uid) "
                            "VALUES (?, ?, ?) ON CONFLICT(source) DO UPDATE SET "
                            "uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
                            (source, uidvalidity, last_uid))


def _has_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except (FileNotFoundError, NotADirectoryError):  # a file where a folder belongs too
        return False


def _sync_files(paths: list[Path], created: set[Path]) -> list[Path]:
    """fsync the files and then their directories (the renames); returns the files synced.
    On any failure the first error is raised, after removing each file that could not be
    synced if it is in ``created`` (renamed into place by this process). A file merely found
    in place is never removed: it may belong to a message already marked on the server."""
    directories: set[Path] = set()
    synced: list[Path] = []
    failed: OSError | None = None
    for path, error in fsync_files(paths):
        if error is not None:
            failed = failed or error
            if path in created:
                path.unlink(missing_ok=True)
            continue
        synced.append(path)
        directories.add(path.parent)
        directories.add(path.parent.parent)  # the two-letter folder may be new
    for _, error in fsync_files(sorted(directories)):
        failed = failed or error
    if failed is not None:
        raise failed
    return synced


def fsync_files(paths: list[Path]) -> list[tuple[Path, OSError | None]]:
    """fsync each file (or directory); several at once (the disk and the journal serve
    concurrent syncs together). Returns each path with the error it raised, if any."""

    def one(path: Path) -> tuple[Path, OSError | None]:
        try:
            handle = os.open(path, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)
        except OSError as error:
            return path, error
        return path, None

    if len(paths) < 4:
        return [one(path) for path in paths]
    with ThreadPoolExecutor(max_workers=FSYNC_THREADS) as pool:
        return list(pool.map(one, paths))


def _fsync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
