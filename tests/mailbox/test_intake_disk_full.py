"""A full disk (ENOSPC) under storage.dir, on a real 8 MB tmpfs: the message waits for space,
its try is not counted, the poll takes nothing more, and the next poll with space takes it."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from safetymonth.cli import main
from safetymonth.mailbox import samplemail
from safetymonth.storage.repository import PROCESSED, RECEIVED
from tests.support.mailservers import drop, open_store, write_config

ATTACHMENT = 1_000_000  # bytes; the raw message (base64) is about 1.37 times that


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """storage.dir on an 8 MB tmpfs of its own (root only: CI runs as root)."""
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root (CI runs as root)")
    folder = tmp_path / "storage"
    folder.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(folder)],
                   check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """A file taking all free space of ``folder``'s filesystem but ``leave`` bytes."""
    stats = os.statvfs(folder)
    filler = folder / "filler"
    with filler.open("wb") as out:
        out.write(b"\0" * (stats.f_bavail * stats.f_frsize - leave))
    return filler


def submission(index: int) -> bytes:
    """A message with one incompressible 1 MB attachment."""
    data = os.urandom(ATTACHMENT)
    return samplemail.message("fuli@dhmz.example.cn", f"材料{index}", [
        samplemail.text_part("请查收。"),
        samplemail.file_part(data, samplemail.utf8_name(f"资料{index}.pdf"))],
        message_id=f"<full-{index}@dhmz>")


def poll(config_path: Path) -> int:
    return CliRunner().invoke(main, ["--config", str(config_path), "poll", "--once"]).exit_code


def test_a_full_disk_leaves_the_message_for_the_next_poll(
        tmp_path: Path, small_disk: Path, caplog: pytest.LogCaptureFixture) -> None:
    config_path = write_config(tmp_path)
    inbox = tmp_path / "inbox"
    drop(inbox, "1.eml", b"")
    (inbox / "new" / "1.eml").unlink()
    assert poll(config_path) == 0  # the store (its database too) on the small disk

    # Room for the raw message (about 1.4 MB), not for its decoded attachment as well.
    filler = fill(small_disk, leave=1_800_000)
    drop(inbox, "1.eml", submission(1))
    with caplog.at_level(logging.INFO):
        assert poll(config_path) == 1
    with open_store(tmp_path) as store:
        [record] = store.messages()
    assert (record.state, record.tries, record.last_error) == (RECEIVED, 0, None)
    full = f"storage.dir is full (No space left on device): message #{record.id} left for " \
           "the next poll"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [full]
    assert [path.name for path in (inbox / "new").iterdir()] == ["1.eml"]  # not marked

    # Still full: the message is taken up again, given back again, and nothing new is taken.
    drop(inbox, "2.eml", submission(2))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert poll(config_path) == 1
    with open_store(tmp_path) as store:
        [again] = store.messages()
    assert (again.id, again.state, again.tries) == (record.id, RECEIVED, 0)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [full]
    assert sorted(path.name for path in (inbox / "new").iterdir()) == ["1.eml", "2.eml"]

    filler.unlink()  # space again: both are taken, each on its first try
    assert poll(config_path) == 0
    with open_store(tmp_path) as store:
        records = store.messages()
        assert [(r.state, r.tries) for r in records] == [(PROCESSED, 1), (PROCESSED, 1)]
        assert [len(store.attachments(r.id)) for r in records] == [1, 1]
    assert list((inbox / "new").iterdir()) == []
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 2


def test_a_disk_with_no_space_at_all_is_one_line_and_nothing_half_done(
        tmp_path: Path, small_disk: Path) -> None:
    # Not even the database can write: SQLite's "database or disk is full", one line.
    config_path = write_config(tmp_path)
    drop(tmp_path / "inbox", "1.eml", b"")
    (tmp_path / "inbox" / "new" / "1.eml").unlink()
    assert poll(config_path) == 0
    drop(tmp_path / "inbox", "1.eml", submission(1))
    filler = fill(small_disk, leave=0)
    result = CliRunner().invoke(main, ["--config", str(config_path), "poll", "--once"])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"safetymonth: database {small_disk / 'safetymonth.db'}: "), line
    assert list((tmp_path / "inbox" / "new").iterdir())  # not marked
    filler.unlink()
    assert poll(config_path) == 0
    with open_store(tmp_path) as store:
        assert [(r.state, r.tries) for r in store.messages()] == [(PROCESSED, 1)]
