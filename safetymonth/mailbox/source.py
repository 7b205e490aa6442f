"""What intake needs from a mailbox, whatever the protocol: list, fetch, mark, wait."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from threading import Event
from typing import Protocol

from safetymonth.config import Config, ImapSource


@dataclass(frozen=True)
class Item:
    """A message on the source: a stable key (never reused for another message) and its size
    when the server announces it."""

    key: str
    size: int | None = None


class Source(Protocol):
    """A mailbox. It knows nothing of the store: intake keeps the source's cursor, an opaque
    string only the source understands (IMAP: UIDVALIDITY and UID; a POP3 source would keep
    UIDLs, a Graph source a delta token), passes it in and saves what comes back."""

    name: str  # names the mailbox, e.g. imap:user@host/INBOX; the cursor is kept under it
    label: str  # the mailbox for people, e.g. imap://user@host:993/INBOX

    def pending(self, cursor: str | None) -> list[Item]:
        """Messages not yet marked processed and past ``cursor``, oldest first."""

    def fetch(self, items: list[Item]) -> Iterator[tuple[Item, bytes]]:
        """The raw bytes of each item, without marking anything on the server."""

    def fetch_header(self, item: Item) -> bytes:
        """Only the header block (for a message too large to download)."""

    def mark(self, items: list[Item]) -> None:
        """Apply the processed action; only called after the store committed them."""

    def advance(self, cursor: str | None, items: list[Item]) -> str | None:
        """The cursor past these recorded items (incremental sources skip them next time)."""

    def waiting(self, seconds: float) -> str:
        """How :meth:`wait` waits, for the start-up line: "IDLE" or "every 60 s"."""

    def wait(self, seconds: float, stop: Event) -> bool:
        """Block until new mail may have arrived (True: the server said so), ``seconds``
        pass or ``stop`` is set (False)."""

    def close(self) -> None: ...


def open_source(config: Config) -> Source:
    source = config.mailbox.source
    if isinstance(source, ImapSource):
        from safetymonth.mailbox.imap import ImapMailbox

        ca_file = config.resolve(source.ca_file) if source.ca_file else None
        return ImapMailbox(source, ca_file)
    from safetymonth.mailbox.maildir import MaildirSource

    return MaildirSource(config.resolve(source.path))
