"""A Maildir as the inbox (the embedded default): new/ is pending, processed mail goes to cur/."""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterator
from pathlib import Path
from threading import Event

from safetymonth.mailbox.parse import header_end
from safetymonth.mailbox.source import Item

HEADER_CHUNK = 64 * 1024
MAX_HEADER = 1024 * 1024  # a header block longer than this is cut (it is only for the record)


class MaildirSource:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = self.label = f"maildir:{path}"
        self.box = mailbox.Maildir(path, factory=None, create=True)

    def _relative(self, key: str) -> str:
        # mailbox.Maildir has no public accessor for a key's file (3.13 adds get_info).
        return str(self.box._lookup(key))

    def pending(self, cursor: str | None = None) -> list[Item]:
        self.box._refresh()
        files = {key: self._relative(key) for key in self.box.iterkeys()}
        return [Item(f"maildir:{key}", self._size(relative))
                for key, relative in sorted(files.items()) if relative.startswith("new")]

    def _size(self, relative: str) -> int | None:
        """The file's size, so ``mailbox.max_message_size`` applies here as on IMAP."""
        try:
            return (self.path / relative).stat().st_size
        except FileNotFoundError:
            return None

    def fetch(self, items: list[Item]) -> Iterator[tuple[Item, bytes]]:
        for item in items:
            data = self._read(item)
            if data is None:  # gone meanwhile (another reader took it)
                continue
            yield item, data
            del data  # not kept alive while the caller works on the next one

    def _read(self, item: Item) -> bytes | None:
        """The file's bytes as they are. (``Maildir.get_bytes`` also translates line endings,
        which on POSIX changes nothing but costs a second copy of a large message.)"""
        try:
            if os.linesep != "\n":
                return self.box.get_bytes(_key(item))
            return (self.path / self._relative(_key(item))).read_bytes()
        except (KeyError, FileNotFoundError):
            return None

    def fetch_header(self, item: Item) -> bytes:
        """The header block, read up to its end only (the message may be huge)."""
        try:
            with (self.path / self._relative(_key(item))).open("rb") as handle:
                head = b""
                while len(head) < MAX_HEADER and not header_end(head):
                    chunk = handle.read(HEADER_CHUNK)
                    if not chunk:
                        break
                    head += chunk
        except (KeyError, FileNotFoundError):
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

    def wait(self, seconds: float, stop: Event) -> None:
        stop.wait(seconds)

    def close(self) -> None:
        """A Maildir holds no connection."""


def _key(item: Item) -> str:
    return item.key.split(":", 1)[1]
