"""Unfinished uploads on disk: ``storage.dir/uploads/<upload id>``, 0600, named by us (never
by the client), opened without following a symlink, appended to as the body streams in.

A PATCH body is written as it arrives, never held whole: :class:`Appender` writes each
piece as it comes and counts how many bytes reached the file (a write that fails part-way
counts only what was written, so the recorded offset never runs ahead of the file).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from safetymonth.storage.files import FILE_MODE, make_private_dir

UPLOADS_DIR = "uploads"
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


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
    whose offset was never recorded, are cut off)."""

    def __init__(self, storage_dir: Path, upload_id: str, offset: int) -> None:
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
        self.offset = offset

    def append(self, chunk: bytes) -> None:
        """Write ``chunk`` now (the server's pieces are about 64 KB: one write each), so
        what a dropped line delivered is on disk whenever the disconnect is noticed."""
        data = memoryview(chunk)
        while data:
            written = os.write(self.fd, data)
            self.offset += written
            data = data[written:]

    def sync_and_close(self) -> None:
        """Everything written is on disk (then the offset may be recorded)."""
        try:
            os.fsync(self.fd)
        finally:
            os.close(self.fd)

    def close(self) -> None:
        os.close(self.fd)
