"""Unfinished uploads on disk: ``storage.dir/uploads/<upload id>``, 0600, named by us (never
by the client), opened without following a symlink, appended to as the body streams in.

A PATCH body is written as it arrives, never held whole: :class:`Appender` writes each
piece (about 64 KB as the server hands them over) as it comes, so what a dropped line
delivered is on disk whenever the disconnect is noticed, and counts how many bytes reached
the file (a write that fails part-way counts only what was written, so the recorded offset
never runs ahead of the file).
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import stat
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from safetymonth.storage.files import FILE_MODE, make_private_dir

UPLOADS_DIR = "uploads"
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
BACKLOG = 64  # pieces queued for the writer (about 4 MB): the memory a PATCH may hold


def path_of(storage_dir: Path, upload_id: str) -> Path:
    if not UPLOAD_ID.match(upload_id):
        raise ValueError("not an upload id")
    return storage_dir / UPLOADS_DIR / upload_id


def create(storage_dir: Path, upload_id: str) -> None:
    """The upload's empty file (its folder made private on first use)."""
    make_private_dir(storage_dir / UPLOADS_DIR)
    handle = os.open(path_of(storage_dir, upload_id),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    os.fchmod(handle, FILE_MODE)
    os.close(handle)


def remove(storage_dir: Path, upload_id: str) -> None:
    path_of(storage_dir, upload_id).unlink(missing_ok=True)


class Appender:
    """The upload's file opened to append from ``offset`` (bytes past it, left by a write
    whose offset was never recorded, are cut off). Pieces are written, and hashed, in a
    thread of their own, in order, while the event loop takes in the next ones: on two
    cores the receiving and the writing overlap. At most ``BACKLOG`` pieces wait."""

    def __init__(self, storage_dir: Path, upload_id: str, offset: int,
                 hasher: Any = None) -> None:
        self.fd = os.open(path_of(storage_dir, upload_id), os.O_WRONLY | os.O_NOFOLLOW)
        try:
            info = os.fstat(self.fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size < offset:
                raise OSError(errno.EIO, "the upload's file is shorter than its offset")
            if info.st_size > offset:
                os.ftruncate(self.fd, offset)
            os.lseek(self.fd, offset, os.SEEK_SET)
        except BaseException:
            os.close(self.fd)
            raise
        self.offset = offset  # bytes on disk (written; durable once finished)
        self.hasher = hasher  # the running SHA-256 of those bytes; None once unknown
        self.error: OSError | None = None
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-write")
        self.pending: deque[Future[None]] = deque()

    async def append(self, chunk: bytes) -> None:
        """Queue ``chunk``; raises the error of an earlier write (a full disk)."""
        self.pending.append(self.writer.submit(self._write, chunk))
        if len(self.pending) > BACKLOG:
            await asyncio.wrap_future(self.pending.popleft())
        if self.error is not None:
            raise self.error

    def _write(self, chunk: bytes) -> None:
        if self.error is not None:
            return
        data = memoryview(chunk)
        try:
            while data:
                written = os.write(self.fd, data)
                self.offset += written
                data = data[written:]
        except OSError as error:
            self.error, self.hasher = error, None  # the hash no longer matches the file
            return
        if self.hasher is not None:
            self.hasher.update(chunk)

    async def finish(self) -> None:
        """Every queued piece written, then the file fsynced and closed (then the offset
        may be recorded); raises the error of a write."""
        try:
            await asyncio.wrap_future(self.writer.submit(self._sync_and_close))
        finally:
            self.writer.shutdown(wait=False)
        if self.error is not None:
            raise self.error

    def _sync_and_close(self) -> None:
        try:
            os.fsync(self.fd)
        finally:
            os.close(self.fd)
