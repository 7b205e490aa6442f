"""The Maildir outbox: each reply lands exactly once, even after a crash, and a run costs one
listing of the folders, not one per reply."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from safetymonth.config import Config, load_config
from safetymonth.mailbox.outbox import deliver
from safetymonth.mailbox.service import send_queued
from safetymonth.mailbox.transports import MaildirOutbox
from safetymonth.storage.repository import QUEUED, SENT, open_repository
from tests.support.mailservers import write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL


def queue_replies(config: Config, count: int, ids: list[str] | None = None) -> list[str]:
    ids = ids or [f"r{index:04d}" for index in range(count)]
    with open_repository(config) as store, store.transaction():
        for reply_id in ids:
            data = (f"To: u{reply_id}@dhmz.example.cn\nSubject: test\n"
                    f"Message-ID: <{reply_id}@mzj.example.gov.cn>\n\n{reply_id}\n").encode()
            store.queue_reply(reply_id, None, "reply", None, f"u{reply_id}@dhmz.example.cn",
                              {}, data)
    return ids


def deliver_queued(config: Config) -> tuple[int, int]:
    with open_repository(config) as store:
        run = send_queued(config, store)
    return run.sent, run.left


def test_a_reply_delivered_before_a_crash_is_not_written_again(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    outbox = tmp_path / "outbox"
    ids = queue_replies(config, 4)
    # A run that died after writing two files, before marking their replies sent; a mail
    # client then read one of them, moving it to cur/ with its flags.
    crashed = MaildirOutbox(outbox)
    with open_repository(config) as store:
        for reply in store.queued_replies()[:2]:
            crashed.send(reply.id, "x", reply.recipient, reply.body + b"first")
    crashed.flush()
    (outbox / "new" / ids[1]).rename(outbox / "cur" / f"{ids[1]}:2,S")

    assert deliver_queued(config) == (4, 0)
    assert sorted(os.listdir(outbox / "new")) == [ids[0], ids[2], ids[3]]
    assert os.listdir(outbox / "cur") == [f"{ids[1]}:2,S"]
    assert (outbox / "new" / ids[0]).read_bytes().endswith(b"first")  # not rewritten
    with open_repository(config) as store:
        assert {row.state for row in store.replies()} == {SENT}
        assert [r for r in store.replies() if r.state == QUEUED] == []

    # Queued again (as if the commit had been lost): still one file per reply.
    with open_repository(config) as store, store.transaction():
        store.conn.exec_driver_sql(f"UPDATE replies SET state = '{QUEUED}'")
    assert deliver_queued(config) == (4, 0)
    assert sorted(os.listdir(outbox / "new")) == [ids[0], ids[2], ids[3]]
    assert os.listdir(outbox / "cur") == [f"{ids[1]}:2,S"]


def test_a_run_lists_the_outbox_once_not_once_per_reply(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(write_config(tmp_path))
    outbox = tmp_path / "outbox"
    for sub in ("new", "cur", "tmp"):
        (outbox / sub).mkdir(parents=True)
    for index in range(20):  # replies read earlier
        (outbox / "cur" / f"old{index}:2,S").write_bytes(b"old")
    queue_replies(config, 50)
    listings: list[str] = []
    real_listdir, real_scandir = os.listdir, os.scandir

    def listdir(path: str | os.PathLike[str] = ".") -> list[str]:
        listings.append(os.fspath(path))
        return real_listdir(path)

    def scandir(path: str | os.PathLike[str] = ".") -> object:
        listings.append(os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    monkeypatch.setattr(os, "scandir", scandir)
    assert deliver_queued(config) == (50, 0)
    monkeypatch.undo()
    cur = [path for path in listings if Path(path) == outbox / "cur"]
    assert len(cur) <= 1
    assert len(os.listdir(outbox / "new")) == 50


def test_a_batch_claim_skips_a_live_workers_reply_and_a_stop_gives_the_rest_back(
        tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    # The fourth reply's id is too long for a file name: writing it fails (ENAMETOOLONG),
    # a fault of the outbox that stops the run.
    ids = queue_replies(config, 5, ["r0", "r1", "r2", "r3" + "x" * 300, "r4"])
    with open_repository(config) as other, open_repository(config) as store:
        assert other.claim_replies(ids[1]) == {ids[1]}  # a live worker is sending it
        run = deliver(store, MaildirOutbox(tmp_path / "outbox"), config.mailbox.address)
        assert (run.sent, run.left) == (2, 2) and run.stopped_by is not None
        assert sorted(os.listdir(tmp_path / "outbox" / "new")) == [ids[0], ids[2]]
        state = {reply.id: (reply.state, reply.claimed_by) for reply in store.replies()}
        assert state == {ids[0]: (SENT, None), ids[1]: (QUEUED, other.owner),
                         ids[2]: (SENT, None), ids[3]: (QUEUED, None), ids[4]: (QUEUED, None)}
        assert other.claim_replies(ids[4]) == {ids[4]}  # given back, not held till a lease
