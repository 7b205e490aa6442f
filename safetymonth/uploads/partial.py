"""Unfinished uploads on disk: ``storage.dir/uploads/<upload id>``, 0600, named by us (never
by the client), opened without following a symlink, appended to as the body streams in.

A PATCH body is written as it arrives, never held whole: :class:`Appender` gathers the
pieces the server hands over (64–256 KB each) into batches of up to ``BATCH`` bytes and
writes each batch with one ``os.writev`` (no copy) in a thread of its own, hashing it there
too (``os.writev`` and SHA-256 of pieces over 2 KB release the GIL, so on two cores the event
loop takes in the next batch meanwhile). Per piece, the event loop only appends it to a list:
a thread hand-off per 64 KB piece cost more than the writing. What a dropped line delivered
is on disk within ``LINGER`` of the line going quiet, and always before the offset is
recorded (the last batch is written and fsynced first); the offset counts the bytes that
reached the file (a write that fails part-way counts only what was written, so the recorded
offset never runs ahead of the file). Each batch's writeback to the disk is started as soon
as it is written (``sync_file_range``, not waiting for it), so the fsync that must precede
the offset's acknowledgement finds most of the PATCH on disk already instead of the whole
8 MiB: the client waits for that fsync before it sends the next PATCH.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import re
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from safetymonth.storage.files import FILE_MODE, make_private_dir

UPLOADS_DIR = "uploads"
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
BATCH = 2 * 1024 * 1024  # bytes gathered per write; a PATCH holds at most two batches
LINGER = 0.02  # seconds a piece may wait in memory for more while the line is quiet


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
    whose offset was never recorded, are cut off). Pieces are gathered into batches; a
    batch is written, and hashed, in a thread of its own while the event loop gathers the
    next one. At most one batch is with the writer and one is gathered: the memory a PATCH
    holds stays under two batches and a piece, however slow the disk."""

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
        self.batch: list[bytes] = []
        self.gathered = 0  # bytes in ``batch``
        self.writing: Future[None] | None = None  # the batch handed over last
        self.linger: asyncio.TimerHandle | None = None

    async def append(self, chunk: bytes) -> None:
        """Add ``chunk`` to the batch, handing the batch to the writer once it is full (or
        ``LINGER`` seconds after its first piece, when the line has gone quiet); raises the
        error of an earlier write (a full disk)."""
        if chunk:
            self.batch.append(chunk)
            self.gathered += len(chunk)
            if self.linger is None:
                self.linger = asyncio.get_running_loop().call_later(LINGER, self._lingered)
        if self.gathered >= BATCH:
            if self.writing is not None:  # at most one batch waits for the writer
                await asyncio.wrap_future(self.writing)
            self._submit()
        if self.error is not None:
            raise self.error

    def _lingered(self) -> None:
        """The line went quiet: hand over what was gathered once the writer is free."""
        self.linger = None
        if self.writing is None or self.writing.done():
            self._submit()
        else:
            self.linger = asyncio.get_running_loop().call_later(LINGER, self._lingered)

    def _submit(self) -> None:
        """Hand the gathered batch to the writer (it writes batches in order)."""
        if self.linger is not None:
            self.linger.cancel()
            self.linger = None
        if self.batch:
            batch, self.batch, self.gathered = self.batch, [], 0
            self.writing = self.writer.submit(self._write, batch)

    def _write(self, batch: list[bytes]) -> None:
        if self.error is not None:
            return
        start = self.offset
        try:
            _write_all(self.fd, batch, self._count)
        except OSError as error:
            self.error, self.hasher = error, None  # the hash no longer matches the file
            return
        _start_writeback(self.fd, start, self.offset - start)
        if self.hasher is not None:
            for piece in batch:
                self.hasher.update(piece)

    def _count(self, written: int) -> None:
        self.offset += written

    async def finish(self) -> None:
        """The gathered batch written, then the file fsynced and closed (then the offset
        may be recorded); raises the error of a write."""
        try:
            self._submit()
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


def _write_all(fd: int, pieces: list[bytes], count: Any) -> None:
    """Write ``pieces`` in order with ``os.writev`` (a short write resumes where it
    stopped), calling ``count`` with the bytes of each write as it lands."""
    views = [memoryview(piece) for piece in pieces]
    first = 0
    while first < len(views):
        written = os.writev(fd, views[first:first + _IOV_MAX])
        count(written)
        while first < len(views) and written >= len(views[first]):
            written -= len(views[first])
            first += 1
        if written:
            views[first] = views[first][written:]


def _sync_file_range() -> Any:
    """glibc's ``sync_file_range`` (Linux; Python's os module has none), or None."""
    try:
        function = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6",
                               use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE = _sync_file_range()
SYNC_FILE_RANGE_WRITE = 2  # start writing the range's dirty pages out; do not wait


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing ``length`` bytes at ``offset`` to the disk (a hint: only the fsync
    makes them durable, and a failure here is the fsync's to report)."""
    if _SYNC_FILE_RANGE is not None and length > 0:
        _SYNC_FILE_RANGE(fd, offset, length, SYNC_FILE_RANGE_WRITE)


_IOV_MAX = os.sysconf("SC_IOV_MAX") if "SC_IOV_MAX" in os.sysconf_names else 1024
