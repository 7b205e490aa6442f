"""The submission store: SQLite (WAL) plus content-addressed files under ``storage.dir``.

Every raw message and every attachment is a plain file named by its SHA-256, written
atomically (temp file, fsync, rename), so a crash never leaves a half file under a real name.
The database holds the original names, the verdicts, the state and the outbox.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DB_NAME = "safetymonth.db"
RAW_DIR = "raw"
FILES_DIR = "files"
TMP_DIR = "tmp"

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
]

# Message states. RECEIVED: raw stored, not yet (fully) processed.
RECEIVED, PROCESSED, FAILED, TOO_LARGE = "received", "processed", "failed", "too_large"
# Reply states.
QUEUED, SENT, REFUSED = "queued", "sent", "refused"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class CheckRow:
    """One verdict of one attachment, as the tally needs it."""

    path: str
    kind: str
    ok: bool


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
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before we mark the message on the server.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self.transaction():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise RuntimeError(f"store schema {version} is newer than this program")
            for step in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={step + 1}")

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
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
        if not target.exists():
            self._write_atomically(target, data)
        return digest, relative

    def _write_atomically(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=self.root / TMP_DIR)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

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

    def unit_checks(self, unit: str) -> list[CheckRow]:
        """Every verdict credited to ``unit`` (processed, not suspicious)."""
        rows = self.db.execute(
            "SELECT c.path, c.kind, c.ok FROM checks c JOIN attachments a ON a.id = c.attachment "
            "JOIN messages m ON m.id = a.message WHERE m.unit = ? AND m.state = ? "
            "AND m.suspicious IS NULL", (unit, PROCESSED)).fetchall()
        return [CheckRow(row["path"], row["kind"], bool(row["ok"])) for row in rows]

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

    def mark_sent(self, reply_id: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE replies SET state = ?, sent_at = ?, attempts = attempts + 1,"
                            " last_error = NULL WHERE id = ?", (SENT, now(), reply_id))

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
