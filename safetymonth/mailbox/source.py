"""What intake needs from a mailbox, whatever the protocol: list, fetch, mark, wait."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from threading import Event
from typing import Protocol

from safetymonth.config import Config, ImapSource
from safetymonth.store import Store


@dataclass(frozen=True)
class Item:
    """A message on the source: a stable key (never reused for another message) and its size
    when the server announces it."""

    key: str
    size: int | None = None


class Source(Protocol):
    def pending(self) -> list[Item]:
        """Messages not yet marked processed, oldest first."""

    def fetch(self, items: list[Item]) -> Iterator[tuple[Item, bytes]]:
        """The raw bytes of each item, without marking anything on the server."""

    def fetch_header(self, item: Item) -> bytes:
        """Only the header block (for a message too large to download)."""

    def mark(self, items: list[Item]) -> None:
        """Apply the processed action; only called after the store committed them."""

    def advance(self, items: list[Item]) -> None:
        """Remember that these items are recorded (incremental sources skip them next time)."""

    def wait(self, seconds: float, stop: Event) -> None:
        """Block until new mail may have arrived, ``seconds`` pass or ``stop`` is set."""

    def close(self) -> None: ...


def open_source(config: Config, store: Store) -> Source:
    source = config.mailbox.source
    if isinstance(source, ImapSource):
        from safetymonth.mailbox.imap import ImapMailbox

        ca_file = config.resolve(source.ca_file) if source.ca_file else None
        return ImapMailbox(source, store, ca_file)
    from safetymonth.mailbox.maildir import MaildirSource

    return MaildirSource(config.resolve(source.path))
