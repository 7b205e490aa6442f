"""The Maildir source opens regular files only: never a symlink, FIFO, socket or device."""

from __future__ import annotations

import logging
import os
import socket
import stat
from pathlib import Path

import pytest

from safetymonth.config import load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.intake import Intake
from safetymonth.mailbox.maildir import MaildirSource
from safetymonth.storage.repository import PROCESSED, open_repository
from tests.support.mailservers import drop, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL


def plant_specials(folder: Path, decoy: Path) -> dict[str, Path]:
    """A symlink to /etc/passwd and one to a real message, a FIFO, a socket and (where the
    kernel lets us) a character device, in new/ and cur/."""
    planted = {}
    for sub in ("new", "cur"):
        planted[f"{sub}/passwd"] = folder / sub / f"{sub}-passwd-link:2,S"
        planted[f"{sub}/passwd"].symlink_to("/etc/passwd")
        planted[f"{sub}/decoy"] = folder / sub / f"{sub}-decoy-link"
        planted[f"{sub}/decoy"].symlink_to(decoy)
        planted[f"{sub}/fifo"] = folder / sub / f"{sub}-fifo"
        os.mkfifo(planted[f"{sub}/fifo"])
        planted[f"{sub}/socket"] = folder / sub / f"{sub}-socket"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(planted[f"{sub}/socket"]))
        server.close()
        device = folder / sub / f"{sub}-null-device"
        try:
            os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # like /dev/null
            planted[f"{sub}/device"] = device
        except PermissionError:
            pass
    return planted


@pytest.mark.timeout(60)  # reading the FIFO would block for ever: fail instead
def test_special_entries_are_never_opened_and_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = load_config(write_config(tmp_path))
    inbox = tmp_path / "inbox"
    real = samplemail.message("fuli@dhmz.example.cn", "总结", [samplemail.text_part("见附件")],
                              message_id="<real@dhmz>")
    drop(inbox, "real.eml", real)
    decoy = tmp_path / "decoy.eml"  # outside the Maildir: must not be read through a link
    decoy.write_bytes(samplemail.message("byg@dhmz.example.cn", "decoy",
                                         [samplemail.text_part("x")], message_id="<decoy@x>"))
    planted = plant_specials(inbox, decoy)
    assert os.geteuid() != 0 or "new/device" in planted  # as root the device is made
    before = {name: os.lstat(path) for name, path in planted.items()}

    source = MaildirSource(inbox)
    with caplog.at_level(logging.WARNING, logger="safetymonth"):
        for _ in range(2):  # two polls of one watcher
            with open_repository(config) as store:
                Intake(config, store).run(source)
    with open_repository(config) as store:
        rows = store.messages()
        stored = {path.read_bytes() for path in (tmp_path / "storage" / "raw").rglob("*")
                  if path.is_file()}
    assert [(row.message_id, row.state) for row in rows] == [("<real@dhmz>", PROCESSED)]
    assert stored == {real}
    # Each entry is left exactly where and what it was...
    for name, path in planted.items():
        now = os.lstat(path)
        assert (now.st_mode, now.st_ino) == (before[name].st_mode, before[name].st_ino), name
    # ...and logged once, though the watcher polled twice.
    warned = [record.getMessage() for record in caplog.records]
    for path in planted.values():
        assert sum(str(path) in line for line in warned) == 1, (path, warned)
    assert any("symlink" in line for line in warned) and any("FIFO" in line for line in warned)


def test_an_entry_swapped_for_a_symlink_after_listing_is_not_read(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    drop(inbox, "m.eml", b"From: a@b.cn\r\n\r\nx\r\n")
    source = MaildirSource(inbox)
    [item] = source.pending()
    (inbox / "new" / "m.eml").unlink()
    (inbox / "new" / "m.eml").symlink_to("/etc/passwd")
    assert list(source.fetch([item])) == []
    assert source.fetch_header(item) == b""
