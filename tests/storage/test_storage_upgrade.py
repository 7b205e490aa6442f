"""A store written by the first release (SQLite, ``PRAGMA user_version`` 1 or 2) is upgraded
in place on first open, and every record reads back as it was written."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from safetymonth.storage import database
from safetymonth.storage.credit import RegistryUnit
from safetymonth.storage.repository import Repository

# The first release's MIGRATIONS, verbatim (safetymonth/store.py before the storage package).
RELEASE_1 = """
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
"""
RELEASE_2 = """
    CREATE INDEX checks_attachment ON checks(attachment);
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT
    );
    ALTER TABLE messages ADD COLUMN not_credited TEXT;
"""

UNIT = "德化县社会福利中心"
VERDICTS = [{"path": "a.zip!照片.jpg", "kind": "photo", "ok": True, "reasons": []},
            {"path": "a.zip!视频.mp4", "kind": "video", "ok": False,
             "reasons": [{"code": "resolution_too_low", "message": "分辨率过低"}]}]
MESSAGES = [
    {"id": 1, "source_key": "imap:u@h/INBOX:7:1", "message_id": "<a1@dhmz>", "sha256": "a" * 64,
     "size": 2048, "sender": "fuli@dhmz.example.cn", "sender_name": "福利中心", "unit": UNIT,
     "auth": "pass", "suspicious": None, "subject": "安全管理月材料",
     "date_header": "Mon, 24 Jun 2024 09:00:00 +0800", "received_at": "2024-06-24T01:00:05+00:00",
     "state": "processed", "tries": 1, "last_error": None, "no_reply": None,
     "notes": json.dumps({"defects": [], "claimed_unit": UNIT, "cloud_links": []},
                         ensure_ascii=False)},
    {"id": 2, "source_key": "maildir:1719190000.M1P2.host", "message_id": None,
     "sha256": "b" * 64, "size": 10, "sender": None, "sender_name": None, "unit": None,
     "auth": "none", "suspicious": "authentication failed: dkim=fail", "subject": "",
     "date_header": None, "received_at": "2024-06-24T02:00:00+00:00", "state": "failed",
     "tries": 3, "last_error": "ValueError: 坏的", "no_reply": "authentication failed",
     "notes": None},
]


def write_first_release_store(root: Path, version: int) -> None:
    """What the first release leaves: its schema at ``version``, a row in every table."""
    root.mkdir(mode=0o700)
    db = sqlite3.connect(root / database.DB_NAME)
    db.executescript(RELEASE_1 + (RELEASE_2 if version == 2 else ""))
    db.execute(f"PRAGMA user_version={version}")
    db.execute("PRAGMA journal_mode=WAL")
    for row in MESSAGES:
        row = {**row, **({"not_credited": None} if version == 2 else {})}
        db.execute(f"INSERT INTO messages ({', '.join(row)}) VALUES "
                   f"({', '.join('?' for _ in row)})", tuple(row.values()))
    if version == 2:
        db.execute("UPDATE messages SET not_credited = 'auto-submitted' WHERE id = 2")
        db.execute("INSERT INTO meta VALUES ('barrier', '2024-06-24T03:00:00+00:00')")
    db.executemany("INSERT INTO source_keys VALUES (?, ?, ?)",
                   [("imap:u@h/INBOX:7:1", 1, "2024-06-24T01:00:05+00:00"),
                    ("imap:u@h/Archive:3:9", 1, "2024-06-25T01:00:00+00:00"),
                    ("maildir:1719190000.M1P2.host", 2, "2024-06-24T02:00:00+00:00")])
    db.execute("INSERT INTO attachments VALUES (1, 1, 0, 'a.zip', 'files/cc/' || ?, ?, 77, "
               "'application/zip', ?)", ("c" * 64, "c" * 64,
                                         json.dumps(VERDICTS, ensure_ascii=False)))
    db.executemany("INSERT INTO checks VALUES (?, 1, ?, ?, ?)",
                   [(1, "a.zip!照片.jpg", "photo", 1), (2, "a.zip!视频.mp4", "video", 0)])
    db.execute("INSERT INTO replies VALUES ('r1', 1, 'reply', ?, 'fuli@dhmz.example.cn', ?, ?, "
               "'sent', 1, NULL, '2024-06-24T01:00:06+00:00', '2024-06-24T01:00:07+00:00')",
               (UNIT, json.dumps({"Subject": "回执：安全管理月材料"}, ensure_ascii=False),
                b"From: x\r\n\r\n\xe5\x9b\x9e\x00\xff"))
    db.execute("INSERT INTO replies VALUES ('r2', NULL, 'reminder', ?, 'fuli@dhmz.example.cn', "
               "'{}', X'00', 'queued', 2, '451 later', '2024-06-26T01:00:00+00:00', NULL)",
               (UNIT,))
    db.execute("INSERT INTO source_state VALUES ('imap:u@h/INBOX', 7, 1)")
    db.commit()
    db.close()


def table(root: Path, name: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(root / database.DB_NAME)
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute(f"SELECT * FROM {name} ORDER BY 1")]
    finally:
        db.close()


@pytest.mark.parametrize("version", [1, 2])
def test_a_first_release_store_is_upgraded_with_nothing_lost(tmp_path: Path,
                                                             version: int) -> None:
    root = tmp_path / "storage"
    write_first_release_store(root, version)
    before = {name: table(root, name) for name in
              ("messages", "source_keys", "attachments", "checks", "replies")}
    with Repository(root) as store:
        assert database.revision(store.conn) == database.head()
        messages = store.messages()
        assert [record.id for record in messages] == [1, 2]
        for record, written in zip(messages, MESSAGES, strict=True):
            expected = {**written, "claimed_by": None, "not_credited": "auto-submitted"
                        if version == 2 and written["id"] == 2 else None,
                        "sender_domain": written["sender"] and "@dhmz.example.cn",
                        "held_until": None, "digest": None, "reuses": None,
                        "credit_unit": None}  # credited from the registry, not synced yet
            assert vars(record) == expected
        for key in ("imap:u@h/INBOX:7:1", "imap:u@h/Archive:3:9"):
            assert store.message_for_key(key) == messages[0]
        [attachment] = store.attachments(1)
        assert (attachment.name, attachment.size, attachment.verdicts) == \
            ("a.zip", 77, tuple(VERDICTS))
        store.sync_registry([RegistryUnit(UNIT, UNIT, ("fuli@dhmz.example.cn",))])
        status = store.unit_tally(UNIT)
        assert (status.submissions, status.photos_ok, status.videos_failed) == (1, 1, 1)
        sent, queued = store.replies()
        assert (sent.id, sent.body, sent.headers, sent.sent_at) == \
            ("r1", b"From: x\r\n\r\n\xe5\x9b\x9e\x00\xff", {"Subject": "回执：安全管理月材料"},
             "2024-06-24T01:00:07+00:00")
        assert (queued.id, queued.body, queued.attempts, queued.last_error) == \
            ("r2", b"\x00", 2, "451 later")
        # The IMAP position becomes the source's opaque cursor: nothing is fetched twice.
        assert store.source_cursor("imap:u@h/INBOX") == "7:1"
        # Their hashes are unique keys now, as bytes and as content: a copy is a duplicate.
        assert store.find_duplicate("b" * 64) == 2
        assert store.find_duplicate("e" * 64, "a" * 64) == 1
    after = {name: table(root, name) for name in before}
    for name, rows in before.items():  # every row and column as it was (plus new columns)
        assert [{key: row[key] for key in old} for row, old in
                zip(after[name], rows, strict=True)] == rows, name
    if version == 2:
        assert {"key": "barrier", "value": "2024-06-24T03:00:00+00:00"} in table(root, "meta")
    with Repository(root) as store:  # the second open only reads the revision
        assert len(store.messages()) == 2


def test_the_first_release_refuses_an_upgraded_store(tmp_path: Path) -> None:
    """Its check was ``user_version > len(MIGRATIONS)`` (2): "newer than this program"."""
    root = tmp_path / "storage"
    write_first_release_store(root, 2)
    Repository(root).close()
    db = sqlite3.connect(root / database.DB_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] > 2
    db.close()


def _schema(url: str) -> dict[str, Any]:
    """Every table's columns (in any order: a migration appends a column where schema.py may
    list it earlier), keys, indexes and constraints as the database reports them."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            return {name: {
                "columns": sorted((column["name"], str(column["type"]), column["nullable"],
                                   str(column.get("default")))
                                  for column in found.get_columns(name)),
                "primary key": found.get_pk_constraint(name)["constrained_columns"],
                "foreign keys": sorted((tuple(key["constrained_columns"]),
                                        key["referred_table"])
                                       for key in found.get_foreign_keys(name)),
                "indexes": sorted((index["name"], tuple(index["column_names"]),
                                   bool(index["unique"])) for index in found.get_indexes(name)),
                "unique": sorted(tuple(constraint["column_names"])
                                 for constraint in found.get_unique_constraints(name)),
            } for name in found.get_table_names()} | {"triggers": _triggers(connection)}
    finally:
        engine.dispose()


def _triggers(connection: Any) -> list[tuple[str, str]]:
    """Each trigger's name and table (the store's version is kept by triggers)."""
    statement = "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal" \
        if connection.dialect.name == "postgresql" else \
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"
    return sorted(tuple(row) for row in connection.exec_driver_sql(statement))


def test_a_new_store_is_created_as_the_migrations_would_make_it(
        tmp_path: Path, engine: str | None) -> None:
    """A new database gets schema.py's tables and a stamp (no migration run); the migrations
    from nothing must make exactly the same schema, on both engines."""
    urls = []
    for name, build in (("created", database.create_schema),
                        ("migrated", lambda connection: database.migrate(connection, None))):
        url = f"sqlite:///{tmp_path / name}.db" if engine is None else \
            _another_database(engine, name)
        sql = create_engine(url)
        with sql.begin() as connection:
            build(connection)
            assert database.revision(connection) == database.head()
        sql.dispose()
        urls.append(url)
    created, migrated = (_schema(url) for url in urls)
    assert created == migrated


def _another_database(url: str, name: str) -> str:
    """A fresh database next to the test's own on the same PostgreSQL server."""
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
        name = f"{name}_{uuid.uuid4().hex[:8]}"
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return str(make_url(url).set(database=name).render_as_string(hide_password=False))
