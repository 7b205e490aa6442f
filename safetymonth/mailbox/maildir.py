"""A Maildir as the inbox (the embedded default): new/ is pending, processed mail goes to cur/.

Only regular files are messages. A symlink (it could point at /etc/passwd), a FIFO (reading
it would block), a socket or a device in new/ or cur/ is never opened: it is logged once per
process and left where it is.
"""

from __future__ import annotations

import errno
import logging
import mailbox
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from threading import Event
from typing import BinaryIO

from safetymonth.mailbox.headers import header_end
from safetymonth.mailbox.source import Item

log = logging.getLogger("safetymonth.maildir")

HEADER_CHUNK = 64 * 1024
MAX_HEADER = 1024 * 1024  # a header block longer than this is cut (it is only for the record)
# Never follow a symlink; never wait on a FIFO's writer.
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


class MaildirSource:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = self.label = f"maildir:{path}"
        self.box = mailbox.Maildir(path, factory=None, create=True)
        self._refused: set[str] = set()  # entries already logged as not regular files

    def _relative(self, key: str) -> str:
        # mailbox.Maildir has no public accessor for a key's file (3.13 adds get_info).
        return str(self.box._lookup(key))

    def pending(self, cursor: str | None = None) -> list[Item]:
        self.box._refresh()
        files = {key: self._relative(key) for key in self.box.iterkeys()}
        items = []
        for key, relative in sorted(files.items()):
            found = self._regular(relative)
            if found is not None and relative.startswith("new"):
                items.append(Item(f"maildir:{key}", found.st_size))
        return items

    def _regular(self, relative: str) -> os.stat_result | None:
        """The entry's status (its size applies ``mailbox.max_message_size`` here as on
        IMAP) when it is a regular file; None when it is gone or is anything else."""
        try:
            found = os.lstat(self.path / relative)
        except FileNotFoundError:
            return None
        if stat.S_ISREG(found.st_mode):
            return found
        if relative not in self._refused:
            self._refused.add(relative)
            log.warning("%s: not a regular file (%s), left alone", self.path / relative,
                        _kind(found.st_mode))
        return None

    def fetch(self, items: list[Item]) -> Iterator[tuple[Item, bytes]]:
        for item in items:
            data = self._read(item)
            if data is None:  # gone meanwhile (another reader took it)
                continue
            yield item, data
            del data  # not kept alive while the caller works on the next one

    def _read(self, item: Item) -> bytes | None:
        """The file's bytes as they are (no line-ending translation: a message is stored
        byte-identical), or None when it is gone or was swapped for something not a file."""
        try:
            with self._open(item) as handle:
                return handle.read()
        except (KeyError, FileNotFoundError, NotRegularFile):
            return None

    def _open(self, item: Item) -> BinaryIO:
        """The entry opened without following a symlink or blocking on a FIFO, and checked
        to be a regular file once open (it may have been replaced since it was listed)."""
        relative = self._relative(_key(item))
        try:
            handle = os.open(self.path / relative, OPEN_FLAGS)
        except OSError as error:
            if error.errno == errno.ELOOP:  # a symlink put in place meanwhile
                raise NotRegularFile(relative) from error
            raise
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            os.close(handle)
            raise NotRegularFile(relative)
        os.set_blocking(handle, True)
        return os.fdopen(handle, "rb")

    def fetch_header(self, item: Item) -> bytes:
        """The header block, read up to its end only (the message may be huge)."""
        try:
            with self._open(item) as handle:
                head = b""
                while len(head) < MAX_HEADER and not header_end(head):
                    chunk = handle.read(HEADER_CHUNK)
                    if not chunk:
                        break
                    head += chunk
        except (KeyError, FileNotFoundError, NotRegularFile):
            return b""
        end = header_end(head)
        return head[:end] if end else head[:MAX_HEADER]

    def mark(self, items: list[Item]) -> None:
        for item in items:
            key = _key(item)
            try:
                relative = self._relative(key)
            except KeyError:
                continue
            if not relative.startswith("new"):
                continue
            name = os.path.basename(relative)
            flags = "" if self.box.colon in name else self.box.colon + "2,S"
            os.replace(self.path / relative, self.path / "cur" / (name + flags))
        self.box._refresh()

    def advance(self, cursor: str | None, items: list[Item]) -> str | None:
        """Nothing to remember: the store's source keys already say what was recorded."""
        return cursor

    def waiting(self, seconds: float) -> str:
        return f"every {seconds:g} s"

    def wait(self, seconds: float, stop: Event) -> bool:
        """A Maildir says nothing when mail arrives: the watcher looks again each time."""
        stop.wait(seconds)
        return False

    def close(self) -> None:
        """A Maildir holds no connection."""


class NotRegularFile(Exception):
    """A Maildir entry that is not a regular file (any more)."""


def _key(item: Item) -> str:
    return item.key.split(":", 1)[1]


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISLNK, "symlink"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
             (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
             (stat.S_ISDIR, "folder"))
    return next((name for test, name in kinds if test(mode)), "special file")
