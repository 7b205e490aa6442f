"""The store: schema versions, WAL, content-addressed atomic files."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import time
from pathlib import Path

import pytest

from safetymonth.config import load_config
from safetymonth.report import build_report
from safetymonth.store import DB_NAME, MIGRATIONS, RAW_DIR, Store
from tests.mailservers import write_config


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


def test_an_old_schema_is_upgraded(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version=1")
    db.close()
    with Store(tmp_path) as store:
        assert store.version == len(MIGRATIONS)
        columns = {row["name"] for row in store.db.execute("PRAGMA table_info(messages)")}
        assert "not_credited" in columns  # added by the second migration
        assert store.db.execute("SELECT count(*) FROM meta").fetchone()[0] == 0


def test_reading_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    """``report`` opens the store while a ``poll`` holds the write lock: a WAL reader must
    neither wait for it nor need the lock itself."""
    config = load_config(write_config(tmp_path))
    Store(config.storage_dir).close()  # a current store
    writer = sqlite3.connect(config.storage_dir / DB_NAME, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO meta (key, value) VALUES ('uncommitted', 'x')")
        started = time.monotonic()
        report = build_report(config)
        assert time.monotonic() - started < 2
        assert report["units"] and report["failed"] == []
        with Store(config.storage_dir) as reader:
            assert reader.db.execute("SELECT count(*) FROM meta").fetchone()[0] == 0
    finally:
        writer.execute("ROLLBACK")
        writer.close()


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


def _fsync_spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the path of every file and directory the store fsyncs."""
    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr("safetymonth.store.os.fsync", spy)
    return synced


def test_batch_mode_makes_files_durable_at_the_barrier(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    synced = _fsync_spy(monkeypatch)
    with Store(tmp_path) as store:
        with store.batch():
            assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
            _, name = store.put_bytes(b"photo bytes")
            _, streamed, size = store.put_stream(iter([b"video ", b"bytes"]))
            assert size == 11 and store.path(streamed).read_bytes() == b"video bytes"
            assert synced == []  # renamed into place, not yet forced to disk
            store.barrier()
            for stored in (name, streamed):
                assert str(store.path(stored)) in synced
                assert str(store.path(stored).parent) in synced  # and their directories
            synced.clear()
            store.barrier()  # nothing new: no file to sync
            assert synced == []
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
        store.put_bytes(b"outside a batch")
        assert len(synced) == 2  # the file before its rename, then its directory


def test_a_failed_fsync_at_the_barrier_removes_the_file_and_raises(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(tmp_path) as store:
        with pytest.raises(OSError, match="No space"), store.batch():
            _, name = store.put_bytes(b"half a file")

            def broken_fsync(fd: int) -> None:
                raise OSError(28, "No space left on device")

            monkeypatch.setattr("safetymonth.store.os.fsync", broken_fsync)
            store.barrier()
        assert not store.path(name).exists()
        assert list((tmp_path / "tmp").iterdir()) == []


def test_a_failed_fsync_never_removes_a_file_found_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file already stored may belong to a message already marked: a failed sync raises
    but leaves it; only a file this process created and could not sync is removed."""
    with Store(tmp_path) as store:
        _, shared = store.put_bytes(b"a photo an older message sent too")
    real = os.fsync
    failing: set[str] = set()

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}") in failing:
            raise OSError(errno.EIO, "Input/output error")
        real(fd)

    monkeypatch.setattr("safetymonth.store.os.fsync", fsync)
    with Store(tmp_path) as store:
        with pytest.raises(OSError, match="Input/output"), store.batch():
            assert store.put_bytes(b"a photo an older message sent too")[1] == shared
            _, new = store.put_bytes(b"a new photo")
            failing.update({str(store.path(shared)), str(store.path(new))})
            store.barrier()
        assert store.path(shared).read_bytes() == b"a photo an older message sent too"
        assert not store.path(new).exists()
        failing.clear()
        with store.batch():  # not recorded as durable: synced again at the next barrier
            store.put_bytes(b"a photo an older message sent too")
            assert store._unsynced == {store.path(shared): False}


def test_intact_and_a_truncated_file_is_rewritten(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        digest, name = store.put_bytes(b"raw message", RAW_DIR)
        message = store.add_message("k", {"sha256": digest, "size": 11})
        assert store.intact(message)
        store.path(name).write_bytes(b"")  # what a power loss can leave behind
        assert not store.intact(message)
        store.put_bytes(b"raw message", RAW_DIR)
        assert store.intact(message) and store.path(name).read_bytes() == b"raw message"


def test_a_file_left_by_a_killed_run_is_synced_at_the_next_barrier(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(tmp_path) as store, store.batch():
        _, name = store.put_bytes(b"written, then the process was killed")
        store._unsynced = {}  # the kill: its barrier never ran
    synced = _fsync_spy(monkeypatch)
    with Store(tmp_path) as store, store.batch():
        assert store.put_bytes(b"written, then the process was killed")[1] == name
        store.barrier()
        assert synced.count(str(store.path(name))) == 1
        store.put_bytes(b"written, then the process was killed")
        store.barrier()  # synced once by this process: not again
        assert synced.count(str(store.path(name))) == 1


def test_put_stream_stores_small_and_large_files_by_hash(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("safetymonth.store.SMALL_FILE", 10)
    with Store(tmp_path) as store:
        for pieces in ([b"tiny"], [b"0123456789", b"abcdef", b"more"]):
            data = b"".join(pieces)
            digest, name, size = store.put_stream(iter(pieces))
            assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))
            assert store.path(name).read_bytes() == data
            assert store.put_stream(iter(pieces)) == (digest, name, size)  # once
        assert list((tmp_path / "tmp").iterdir()) == []


def test_a_nested_transaction_commits_or_rolls_back_with_the_outer_one(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        with pytest.raises(ZeroDivisionError), store.transaction():
            store.add_message("k1", {"sha256": "a" * 64, "size": 1})  # its own transaction
            raise ZeroDivisionError
        assert store.messages() == []
        with store.transaction():
            store.add_message("k1", {"sha256": "a" * 64, "size": 1})
            store.add_message("k2", {"sha256": "b" * 64, "size": 1})
        assert len(store.messages()) == 2
