"""What the store refuses, as one sentence a clerk can act on (the CLI prints it as one line).
Kept apart so the CLI can catch them without importing the database layers."""

from __future__ import annotations


class StorageError(Exception):
    """The store cannot be used; the message says why and what to do."""


class StorageFolderError(StorageError):
    """``storage.dir`` cannot be used safely; the message says what to run to fix it."""


class DatabaseError(StorageError):
    """The database cannot be used; the message names it and says what to do."""


class SourceHeldError(StorageError):
    """Another live poll watches the source."""

    def __init__(self, host: str, pid: int, source: str) -> None:
        super().__init__(f"another poll (pid {pid} on {host}) is watching {source}")
        self.host, self.pid = host, pid
