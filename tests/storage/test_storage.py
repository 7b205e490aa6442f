"""The repository on both engines: schema at head, transactions, outbox, content-addressed
atomic files and the durability barrier."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect, select, update
from sqlalchemy.engine import make_url

from safetymonth.config import load_config
from safetymonth.report import build_report
from safetymonth.storage import claims, database
from safetymonth.storage.credit import RegistryUnit
from safetymonth.storage.errors import DatabaseError
from safetymonth.storage.files import RAW_DIR
from safetymonth.storage.overview import Overview
from safetymonth.storage.repository import (
    NewAttachment,
    Outcome,
    Received,
    Repository,
    open_repository,
)
from safetymonth.storage.schema import workers
from tests.support.mailservers import write_config

Opener = Callable[[], Repository]


@pytest.fixture
def open_store(tmp_path: Path, engine: str | None) -> Opener:
    """Opens the test's store: tmp_path/storage on the engine under test."""
    return lambda: Repository(tmp_path / "storage", engine)


def received(sha: str = "a" * 64, size: int = 1, message_id: str | None = None,
             sender: str | None = None) -> Received:
    return Received(sha256=sha, size=size, message_id=message_id, sender=sender,
                    sender_name=None, subject="", date_header=None)


def test_a_new_store_is_at_the_head_revision_with_every_table(open_store: Opener,
                                                              engine: str | None) -> None:
    with open_store() as store:
        tables = set(inspect(store.conn).get_table_names())
        assert {"messages", "attachments", "checks", "replies", "source_keys",
                "source_cursors", "meta", "alembic_version"} <= tables
        assert database.revision(store.conn) == database.head()
        if engine is None:
            assert store.conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            # The first release refuses such a store instead of misreading it.
            assert store.conn.exec_driver_sql("PRAGMA user_version").scalar() > 2
    with open_store() as store:  # reopening migrates nothing twice
        assert database.revision(store.conn) == database.head()


def test_the_head_revision_is_read_from_the_file_names_as_alembic_reads_it() -> None:
    """head() reads the migrations' file names, not the scripts: each file must be named for
    its revision, and the newest name must be Alembic's head."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(database.MIGRATIONS))
    assert database.head() == script.get_current_head()
    for revision in script.walk_revisions():
        assert Path(revision.path).name.startswith(f"{revision.revision}_")


def test_a_newer_schema_is_refused_in_one_sentence(open_store: Opener) -> None:
    with open_store() as store:
        store.conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
        store.conn.commit()
    with pytest.raises(DatabaseError, match="newer than this program: upgrade safetymonth"):
        open_store()


def test_reading_does_not_wait_for_a_writer(tmp_path: Path, engine: str | None) -> None:
    """``report`` opens the store while a ``poll`` holds a write transaction: a reader must
    neither wait for it nor see its uncommitted rows."""
    config = load_config(write_config(tmp_path, engine))
    open_repository(config).close()  # a current store
    if engine is None:
        writer = sqlite3.connect(config.storage_dir / database.DB_NAME, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
    else:
        url = make_url(engine)
        writer = psycopg.connect(host=url.host, port=url.port, user=url.username,
                                 dbname=url.database)
    try:
        writer.execute("INSERT INTO meta (key, value) VALUES ('uncommitted', 'x')")
        started = time.monotonic()
        report = build_report(config)
        waited = time.monotonic() - started
        assert report["units"] and report["failed"] == []
        assert waited < 5, "the report waited for the writer's lock"
    finally:
        writer.rollback()
        writer.close()


def _age_heartbeat(store: Repository) -> None:
    """Make this worker look dead: its heartbeat older than the lease."""
    with store.transaction():
        store.conn.execute(update(workers).where(workers.c.owner == store.owner)
                           .values(heartbeat_at=claims.timestamp(2 * claims.LEASE)))


def _alive(store: Repository) -> bool:
    beat = store.conn.execute(select(workers.c.heartbeat_at)
                              .where(workers.c.owner == store.owner)).scalar()
    store.conn.rollback()
    return str(beat) >= claims.timestamp(claims.LEASE)


def test_the_heartbeat_is_carried_by_the_process_own_commits(
        open_store: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that commits write after write keeps its claims alive through its own
    transactions; its heartbeat thread (here never looking) does not compete with them for
    SQLite's write lock."""
    monkeypatch.setattr(claims, "CHECK", 3600.0)
    with open_store() as store:
        store.register()
        _age_heartbeat(store)  # no beat due: HEARTBEAT seconds have not passed
        assert not _alive(store)
        monkeypatch.setattr(claims, "HEARTBEAT", 0.0)  # due at every commit
        store.save_source_cursor("imap://x", "1")
        assert _alive(store)


def test_an_idle_process_keeps_beating_from_its_thread(
        open_store: Opener, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(claims, "CHECK", 0.01)
    with open_store() as store:
        store.register()
        _age_heartbeat(store)  # no beat due yet, from the commit or the thread
        monkeypatch.setattr(claims, "HEARTBEAT", 0.0)  # due: only the thread writes now
        deadline = time.monotonic() + 30
        while not _alive(store) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _alive(store)
    assert "heartbeat not recorded" not in caplog.text


def test_files_are_named_by_content_hash_and_written_once(open_store: Opener,
                                                          tmp_path: Path) -> None:
    with open_store() as store:
        data = b"\xff\xd8 photo bytes"
        digest, name = store.put_bytes(data)
        assert digest == hashlib.sha256(data).hexdigest()
        assert name == f"files/{digest[:2]}/{digest}"
        assert store.path(name).read_bytes() == data
        mtime = store.path(name).stat().st_mtime_ns
        assert store.put_bytes(data) == (digest, name)
        assert store.path(name).stat().st_mtime_ns == mtime
        raw_digest = store.put_raw(b"raw message")
        assert store.raw_path(raw_digest).read_bytes() == b"raw message"
        assert list((tmp_path / "storage" / "tmp").iterdir()) == []


def test_a_failed_write_leaves_no_file_under_a_real_name(
        open_store: Opener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store() as store:
        def broken_fsync(fd: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr("safetymonth.storage.files.os.fsync", broken_fsync)
        with pytest.raises(OSError):
            store.put_bytes(b"half a file")
        digest = hashlib.sha256(b"half a file").hexdigest()
        assert not store.path(f"files/{digest[:2]}/{digest}").exists()
        assert list((tmp_path / "storage" / "tmp").iterdir()) == []


def test_transaction_rolls_back(open_store: Opener) -> None:
    with open_store() as store:
        with pytest.raises(ZeroDivisionError), store.transaction():
            store.queue_reply("r1", None, "reply", None, "a@b.cn", {}, b"x")
            raise ZeroDivisionError
        assert store.replies() == []


def test_a_nested_transaction_commits_or_rolls_back_with_the_outer_one(
        open_store: Opener) -> None:
    with open_store() as store:
        with pytest.raises(ZeroDivisionError), store.transaction():
            store.record_received("k1", received())  # its own transaction, joined
            raise ZeroDivisionError
        assert store.messages() == []
        with store.transaction():
            store.record_received("k1", received("a" * 64))
            store.record_received("k2", received("b" * 64))
        assert len(store.messages()) == 2


def test_records_round_trip_as_frozen_dataclasses(open_store: Opener) -> None:
    with open_store() as store:
        message = store.record_received("maildir:1", received(
            "c" * 64, 1234, "<m1@dhmz>", "fuli@dhmz.example.cn")).message
        store.add_source_key("imap:2", message)
        store.add_source_key("imap:2", message)  # a key seen twice is one key
        verdict = {"path": "照片.jpg", "kind": "photo", "ok": True, "reasons": []}
        store.record_verdicts(message, [NewAttachment(0, "照片.jpg", "files/ab/x", "ab" * 32,
                                                      9, "image/jpeg", [verdict])])
        store.record_outcome(message, Outcome(
            state="processed", unit="德化县社会福利中心", auth="pass", suspicious=None,
            not_credited=None, no_reply=None, notes={"claimed_unit": "德化县社会福利中心"}))
        record = store.message_for_key("imap:2")
        assert record is not None and record == store.message(message)
        assert (record.sender, record.unit, record.state) == \
            ("fuli@dhmz.example.cn", "德化县社会福利中心", "processed")
        assert record.claimed_unit == "德化县社会福利中心"
        with pytest.raises(AttributeError):
            record.state = "failed"  # type: ignore[misc]
        [stored] = store.attachments(message)
        assert stored.verdicts == (verdict,) and stored.name == "照片.jpg"
        store.sync_registry([RegistryUnit("德化县社会福利中心", "德化县社会福利中心",
                                          ("fuli@dhmz.example.cn",))])
        status = store.unit_tally("德化县社会福利中心")
        assert (status.submissions, status.photos_ok, status.videos_ok) == (1, 1, 0)
        assert store.accepted_counts("德化县社会福利中心") == {"photo": 1}
        assert store.find_duplicate("c" * 64) == message
        assert store.find_duplicate("d" * 64, "c" * 64) == message  # its content: its bytes
        assert store.find_duplicate("d" * 64, "e" * 64) is None


def test_a_duplicate_is_the_same_content_not_the_same_message_id(open_store: Opener) -> None:
    """Issue 16: the content digest is the unique key, not (Message-ID, sender)."""
    def content(sha: str, digest: str, message_id: str = "<m@dhmz>") -> Received:
        return Received(sha256=sha, size=1, message_id=message_id, sender="a@dhmz.example.cn",
                        sender_name=None, subject="", date_header=None, content=digest)

    with open_store() as store:
        first = store.record_received("k1", content("a" * 64, "1" * 64))
        # Other bytes, same content (another delivery's trace fields): a duplicate.
        again = store.record_received("k2", content("b" * 64, "1" * 64))
        assert (again.message, again.new, again.duplicate) == (first.message, False, True)
        # Same Message-ID and sender, other content: a new message noting the first.
        other = store.record_received("k3", content("c" * 64, "2" * 64))
        assert other.new and other.message != first.message
        third = store.record_received("k4", content("d" * 64, "3" * 64))
        unrelated = store.record_received("k5", content("e" * 64, "4" * 64, "<n@dhmz>"))
        assert [(row.id, row.reuses) for row in store.messages()] == [
            (first.message, None), (other.message, first.message),
            (third.message, first.message), (unrelated.message, None)]
        assert set(store.source_keys(first.message)) == {"k1", "k2"}


def test_the_outbox_queues_each_reply_once_and_records_attempts(open_store: Opener) -> None:
    with open_store() as store:
        body = "回执".encode() + bytes(range(256))
        assert store.queue_reply("r1", None, "reply", "U", "Fuli@X.cn", {"Subject": "回执"},
                                 body)
        assert not store.queue_reply("r1", None, "reply", "U", "fuli@x.cn", {}, b"other")
        assert store.queue_reply("r2", None, "reminder", "U", "fuli@x.cn", {}, b"2")
        [first, _] = store.queued_replies()
        assert (first.id, first.recipient, first.body, first.headers) == \
            ("r1", "fuli@x.cn", body, {"Subject": "回执"})
        store.mark_attempt_failed("r2", "451 try later")
        store.mark_sent("r1")
        assert [reply.id for reply in store.queued_replies()] == ["r2"]
        sent, later = store.replies()
        assert (sent.state, sent.attempts, sent.sent_at is not None) == ("sent", 1, True)
        assert (later.state, later.attempts, later.last_error) == ("queued", 1, "451 try later")
        store.mark_attempt_failed("r2", "550 no such user", permanent=True)
        assert store.queued_replies() == []
        assert store.replies_since("FULI@x.cn", "reply", 1) == 1
        assert store.last_reply_at("U", "reminder") == later.created_at


def test_the_source_cursor_is_kept_as_the_source_wrote_it(open_store: Opener) -> None:
    with open_store() as store:
        assert store.source_cursor("imap:u@h/INBOX") is None
        store.save_source_cursor("imap:u@h/INBOX", "17:4")
        store.save_source_cursor("imap:u@h/INBOX", "17:9")
    with open_store() as store:
        assert store.source_cursor("imap:u@h/INBOX") == "17:9"


def _fsync_spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the path of every file and directory the store fsyncs."""
    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr("safetymonth.storage.files.os.fsync", spy)
    return synced


def _synchronous(store: Repository) -> int:
    return int(store.conn.exec_driver_sql("PRAGMA synchronous").scalar() or 0)


def test_batch_mode_makes_files_durable_at_the_barrier(
        open_store: Opener, engine: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    synced = _fsync_spy(monkeypatch)
    with open_store() as store:
        with store.batch():
            if engine is None:
                assert _synchronous(store) == 1  # NORMAL
                store.conn.rollback()
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
        if engine is None:
            assert _synchronous(store) == 2  # FULL again
            store.conn.rollback()
        store.put_bytes(b"outside a batch")
        assert len(synced) == 2  # the file before its rename, then its directory


def test_a_failed_fsync_at_the_barrier_removes_the_file_and_raises(
        open_store: Opener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store() as store:
        with pytest.raises(OSError, match="No space"), store.batch():
            _, name = store.put_bytes(b"half a file")

            def broken_fsync(fd: int) -> None:
                raise OSError(28, "No space left on device")

            monkeypatch.setattr("safetymonth.storage.files.os.fsync", broken_fsync)
            store.barrier()
        assert not store.path(name).exists()
        assert list((tmp_path / "storage" / "tmp").iterdir()) == []


def test_a_failed_fsync_never_removes_a_file_found_in_place(
        open_store: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file already stored may belong to a message already marked: a failed sync raises
    but leaves it; only a file this process created and could not sync is removed."""
    with open_store() as store:
        _, shared = store.put_bytes(b"a photo an older message sent too")
    real = os.fsync
    failing: set[str] = set()

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}") in failing:
            raise OSError(errno.EIO, "Input/output error")
        real(fd)

    monkeypatch.setattr("safetymonth.storage.files.os.fsync", fsync)
    with open_store() as store:
        with pytest.raises(OSError, match="Input/output"), store.batch():
            assert store.put_bytes(b"a photo an older message sent too")[1] == shared
            _, new = store.put_bytes(b"a new photo")
            failing.update({str(store.path(shared)), str(store.path(new))})
            store.barrier()
        assert store.path(shared).read_bytes() == b"a photo an older message sent too"
        assert not store.path(new).exists()
        failing.clear()
        spy = _fsync_spy(monkeypatch)
        with store.batch():  # not recorded as durable: synced again at the next barrier
            store.put_bytes(b"a photo an older message sent too")
        assert str(store.path(shared)) in spy


def test_intact_and_a_truncated_file_is_rewritten(open_store: Opener) -> None:
    with open_store() as store:
        digest = store.put_raw(b"raw message")
        message = store.record_received("k", received(digest, 11)).message

        def intact() -> bool:
            record = store.message(message)
            return record is not None and store.intact(record)

        assert intact()
        store.raw_path(digest).write_bytes(b"")  # what a power loss can leave behind
        assert not intact()
        store.put_raw(b"raw message")
        assert intact() and store.raw_path(digest).read_bytes() == b"raw message"


def test_a_file_left_by_a_killed_run_is_synced_at_the_next_barrier(
        open_store: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store() as store, store.files.deferred():
        _, name = store.put_bytes(b"written, then the process was killed")
        # the kill: no barrier ran
    synced = _fsync_spy(monkeypatch)
    with open_store() as store, store.batch():
        assert store.put_bytes(b"written, then the process was killed")[1] == name
        store.barrier()
        assert synced.count(str(store.path(name))) == 1
        store.put_bytes(b"written, then the process was killed")
        store.barrier()  # synced once by this process: not again
        assert synced.count(str(store.path(name))) == 1


def test_put_stream_stores_small_and_large_files_by_hash(
        open_store: Opener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("safetymonth.storage.files.SMALL_FILE", 10)
    with open_store() as store:
        for pieces in ([b"tiny"], [b"0123456789", b"abcdef", b"more"]):
            data = b"".join(pieces)
            digest, name, size = store.put_stream(iter(pieces))
            assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))
            assert store.path(name).read_bytes() == data
            assert store.put_stream(iter(pieces)) == (digest, name, size)  # once
        assert list((tmp_path / "storage" / "tmp").iterdir()) == []


def test_raw_files_live_under_raw(open_store: Opener, tmp_path: Path) -> None:
    with open_store() as store:
        digest = store.put_raw(b"x")
        assert store.raw_path(digest) == tmp_path / "storage" / RAW_DIR / digest[:2] / digest


def test_the_store_version_moves_with_every_write_the_board_reads(
        open_store: Opener, tmp_path: Path) -> None:
    """Overview.version (what the console's cached board is keyed by) is one row the
    database's triggers bump: each write to messages, checks, decisions or replies moves it,
    from this connection or another one; reading leaves it alone."""
    with open_store() as store, open_store() as other:
        seen = [Overview(store).version()]

        def moved() -> bool:
            seen.append(Overview(store).version())
            return seen[-1] != seen[-2]

        message = other.record_received("maildir:1", received(
            "c" * 64, 1234, "<m1@dhmz>", "fuli@dhmz.example.cn")).message
        assert moved()
        other.record_verdicts(message, [NewAttachment(
            0, "照片.jpg", "files/ab/x", "ab" * 32, 9, "image/jpeg",
            [{"path": "照片.jpg", "kind": "photo", "ok": True, "reasons": []}])])
        assert moved()
        other.record_outcome(message, Outcome(
            state="processed", unit=None, auth="pass", suspicious=None, not_credited=None,
            no_reply=None, notes={}))
        assert moved()
        [file] = other.attachments(message)
        decision = store.record_decision("reject", "不是本单位的照片", "clerk", "2026-05-01",
                                         file=file.id)
        assert moved()
        assert other.undo_decision(decision, "clerk", "2026-05-02")
        assert moved()
        assert other.queue_reply("r1", message, "reply", "U", "fuli@x.cn", {}, b"1")
        assert moved()
        other.mark_sent("r1")
        assert moved()
        with other.transaction():  # a version never runs ahead of the data it stands for
            assert other.queue_reply("r2", message, "reply", "U", "fuli@x.cn", {}, b"2")
            assert not moved()
        assert moved()
        store.unit_tally("U")
        other.messages()
        assert not moved()
