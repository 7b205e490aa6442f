"""fsync for files and folders, shared by the store and the Maildir outbox."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FSYNC_THREADS = 8


def fsync_files(paths: list[Path]) -> list[tuple[Path, OSError | None]]:
    """fsync each file (or directory); several at once (the disk and the journal serve
    concurrent syncs together). Returns each path with the error it raised, if any."""

    def one(path: Path) -> tuple[Path, OSError | None]:
        try:
            handle = os.open(path, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)
        except OSError as error:
            return path, error
        return path, None

    if len(paths) < 4:
        return [one(path) for path in paths]
    with ThreadPoolExecutor(max_workers=FSYNC_THREADS) as pool:
        return list(pool.map(one, paths))


def fsync_directory(directory: Path) -> None:
    """Make the names in ``directory`` (creations, renames) durable."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
