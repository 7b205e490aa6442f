"""Helpers shared by the probes."""

from __future__ import annotations

import lzma
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

from safetymonth.config import Policy
from safetymonth.validator import messages, sandbox
from safetymonth.validator.verdict import Code, Kind, Verdict

T = TypeVar("T")
TAIL_SIZE = 64 * 1024

# EXIF orientations 5-8 turn the picture a quarter, so width and height trade places.
SWAPPING_ORIENTATIONS = {5, 6, 7, 8}

ORIENTATION_TAG = 0x0112  # EXIF Orientation
SHORT = 3  # the TIFF field type Orientation is stored as

NO_VIDEO = "没有找到视频画面，文件可能损坏或缺少索引"

# What reading a damaged file raises, most of all through a zip member: a bad compressed
# stream, a "version needed" we lack, a name that is not valid UTF-8, a short read, an offset
# from the file too large to seek to (ValueError, OverflowError), and MediaInfo's own
# RuntimeError.
READ_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, OverflowError,
               NotImplementedError, RuntimeError, zlib.error, lzma.LZMAError)


def oriented(width: int, height: int, orientation: object) -> tuple[int, int]:
    """The displayed size for an EXIF orientation value."""
    if orientation in SWAPPING_ORIENTATIONS:
        return height, width
    return width, height


def exif_orientation(tiff: bytes) -> int | None:
    """The Orientation tag of IFD0 in an EXIF block (TIFF layout), or None. Read directly:
    Pillow's ``Image.Exif`` parses every tag and warns on stderr about broken ones, and
    silencing warnings is process-global, which threads must not touch."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    ifd = struct.unpack(order + "I", tiff[4:8])[0]
    if ifd + 2 > len(tiff):
        return None
    count = struct.unpack(order + "H", tiff[ifd:ifd + 2])[0]
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        tag, kind, _, value = struct.unpack(order + "HHI4s", tiff[entry:entry + 12])
        if tag == ORIENTATION_TAG and kind == SHORT:
            return struct.unpack(order + "H", value[:2])[0]
    return None


def corrupt(verdict: Verdict, detail: str) -> Verdict:
    """Mark ``verdict`` corrupt; what was already read (format, size) stays reported."""
    return verdict.fail(Code.CORRUPT, messages.corrupt(verdict.kind, detail))


def new(kind: Kind, fmt: str | None) -> Verdict:
    return Verdict(path="", kind=kind, format=fmt)


def check_pixels(verdict: Verdict, policy: Policy) -> Verdict:
    """A decompression bomb is judged from the declared size alone; it is never decoded."""
    width, height = verdict.width or 0, verdict.height or 0
    if width * height > policy.max_image_pixels:
        verdict.fail(Code.TOO_LARGE, messages.image_bomb(width, height, policy.max_image_pixels))
    return verdict


def read_tail(stream: BinaryIO, size: int, length: int = TAIL_SIZE) -> tuple[int, bytes]:
    """The last ``length`` bytes of the stream and the offset they start at."""
    start = max(0, size - length)
    stream.seek(start)
    return start, stream.read(length)


def sandboxed(verdict: Verdict, policy: Policy, task: Callable[..., T], *args: Any) -> T | Verdict:
    """``task(*args)`` in a sandbox worker (``policy.probe`` limits); when the worker
    overruns, ``verdict`` marked corrupt with the sentence that says the file cannot be read."""
    try:
        return sandbox.run(task, args, policy.probe)
    except sandbox.Overrun:
        return verdict.fail(Code.CORRUPT, messages.unreadable(verdict.kind))
