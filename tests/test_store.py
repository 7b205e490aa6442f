"""The store: schema versions, WAL, content-addressed atomic files."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from safetymonth.store import MIGRATIONS, RAW_DIR, Store


def test_schema_version_and_wal(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        assert store.version == len(MIGRATIONS)
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in store.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"messages", "attachments", "checks", "replies", "source_keys"} <= tables
    with Store(tmp_path) as store:  # reopening migrates nothing twice
        assert store.version == len(MIGRATIONS)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "safetymonth.db")
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="newer"):
        Store(tmp_path)


def test_files_are_named_by_content_hash_and_written_once(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        data = b"\xff\xd8 photo bytes"
        digest, name = store.put_bytes(data)
        assert digest == hashlib.sha256(data).hexdigest()
        assert name == f"files/{digest[:2]}/{digest}"
        assert store.path(name).read_bytes() == data
        mtime = store.path(name).stat().st_mtime_ns
        assert store.put_bytes(data) == (digest, name)
        assert store.path(name).stat().st_mtime_ns == mtime
        raw_digest, _ = store.put_bytes(b"raw message", RAW_DIR)
        assert store.raw_path(raw_digest).read_bytes() == b"raw message"
        assert list((tmp_path / "tmp").iterdir()) == []


def test_a_failed_write_leaves_no_file_under_a_real_name(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(tmp_path) as store:
        def broken_fsync(fd: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr("safetymonth.store.os.fsync", broken_fsync)
        with pytest.raises(OSError):
            store.put_bytes(b"half a file")
        digest = hashlib.sha256(b"half a file").hexdigest()
        assert not store.path(f"files/{digest[:2]}/{digest}").exists()
        assert list((tmp_path / "tmp").iterdir()) == []


def test_transaction_rolls_back(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        with pytest.raises(ZeroDivisionError), store.transaction():
            store.queue_reply("r1", None, "reply", None, "a@b.cn", {}, b"x")
            raise ZeroDivisionError
        assert store.replies() == []
