"""AVI, from the RIFF header list and the top-level chunk headers.

A long AVI carries an index (``idx1``, and OpenDML ``ix##`` chunks spread through the file)
whose size grows with its length, and MediaInfo reads them: 76 ms for 1 GB against 13 ms for
10 MB. The frame size sits in the first few kilobytes (``strf``, with ``vprp`` for the display
aspect), so only the header list is read. Truncation: a top-level RIFF chunk (one per GB in
OpenDML files) that runs past the end of the file.

Structure, checked before a file is ``ok``: every chunk of ``hdrl`` fits its list and each
list fits its parent; the video stream list has a ``strh`` and a ``strf`` long enough for a
bitmap header, with a plausible size (no side over 16384); the ``movi`` list is there, and an
``idx1`` index, when present, holds at least one whole entry. Only chunk headers are read
outside ``hdrl``, so the cost is the same for any length.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from safetymonth.validator.formats.base import corrupt, new
from safetymonth.validator.verdict import Kind, Verdict

MAX_HEADER_LIST = 1024 * 1024
BITMAP_HEADER = 40  # BITMAPINFOHEADER, the shortest video strf
INDEX_ENTRY = 16
MAX_SIDE = 16384
MAX_TOP_LEVEL = 64  # chunks looked at in one RIFF list: movi, idx1, JUNK, INFO, ...
MAX_RIFF_CHUNKS = 1024  # OpenDML writes one per gigabyte; beyond this, trailing data


class Broken(Exception):
    """A structural error; the message is the detail a clerk reads."""


@dataclass
class Stream:
    is_video: bool = False
    size: tuple[int, int] | None = None
    aspect: float | None = None
    has_format: bool = False


def probe(stream: BinaryIO, size: int) -> Verdict | None:
    """The verdict, or None when no video stream header was found (the caller asks
    MediaInfo)."""
    verdict = new(Kind.VIDEO, "AVI")
    try:
        found = _video_size(stream, size)
    except Broken as error:
        found, problem = None, str(error)
    else:
        problem = None
    if found:
        verdict.width, verdict.height = found
    if _riff_runs_past_end(stream, size):
        return corrupt(verdict, "文件不完整，可能在传输中被截断")
    if problem:
        return corrupt(verdict, problem)
    if found:
        index_problem = _movie_problem(stream, size)
        return corrupt(verdict, index_problem) if index_problem else verdict
    return None


def _chunks(data: bytes, position: int, end: int) -> Iterator[tuple[bytes, bytes, int, int]]:
    """(id, list type or b"", body offset, body length) of each chunk in ``data`` between
    ``position`` and ``end``; a chunk that runs past ``end`` is a structural error."""
    while position + 8 <= end:
        kind, length = struct.unpack("<4sI", data[position:position + 8])
        if position + 8 + length > end:
            raise Broken(f"{_name(kind)}块超出其所属范围")
        if kind == b"LIST" and length < 4:
            raise Broken("LIST块大小无效")
        list_type = data[position + 8:position + 12] if kind == b"LIST" else b""
        yield kind, list_type, position + 8, length
        position += 8 + length + (length & 1)


def _name(kind: bytes) -> str:
    return kind.decode("latin-1").strip() or "?"


def _video_size(stream: BinaryIO, size: int) -> tuple[int, int] | None:
    """The first video stream's size, from the ``hdrl`` list that follows the RIFF header."""
    stream.seek(12)
    header = stream.read(12)
    if len(header) < 12 or header[:4] != b"LIST" or header[8:12] != b"hdrl":
        return None
    declared = struct.unpack("<I", header[4:8])[0]
    if 12 + 8 + declared > size:
        raise Broken("hdrl块超出文件范围")
    length = min(declared, MAX_HEADER_LIST) - 4
    if length <= 0:  # read(-n) would read the whole file
        return None
    data = stream.read(length)
    end = len(data) if declared <= MAX_HEADER_LIST else _last_whole_chunk(data)
    for kind, list_type, body, chunk_size in _chunks(data, 0, end):
        if kind == b"LIST" and list_type == b"strl":
            found = _stream_size(data, body + 4, body + chunk_size)
            if found:
                return found
    return None


def _last_whole_chunk(data: bytes) -> int:
    """Where the chunks of a header list longer than we read stop being whole."""
    position = 0
    while position + 8 <= len(data):
        length = struct.unpack("<I", data[position + 4:position + 8])[0]
        if position + 8 + length > len(data):
            break
        position += 8 + length + (length & 1)
    return min(position, len(data))


def _stream_size(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """Width and height of a video stream list (strh ``vids``), widened by ``vprp``."""
    found = Stream()
    for kind, _, body, length in _chunks(data, start, end):
        if kind == b"strh":
            found.is_video = data[body:body + 4] == b"vids"
        elif kind == b"strf":
            found.has_format = True
            if length >= BITMAP_HEADER:
                width, height = struct.unpack("<ii", data[body + 4:body + 12])
                found.size = (abs(width), abs(height))
        elif kind == b"vprp" and length >= 24:
            x, y = struct.unpack("<HH", data[body + 20:body + 24])[::-1]
            found.aspect = x / y if x and y else None
    if not found.is_video:
        return None
    if not found.size:
        raise Broken("视频流缺少格式描述（strf）")
    width, height = found.size
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise Broken("文件头中的视频尺寸不合理")
    if found.aspect and abs(found.aspect - width / height) > 0.01:
        width = round(height * found.aspect)
    return width, height


def _movie_problem(stream: BinaryIO, size: int) -> str | None:
    """The first RIFF list must hold a ``movi`` list, and an ``idx1`` that fits."""
    stream.seek(4)
    riff_end = min(size, 8 + struct.unpack("<I", stream.read(4))[0])
    position, has_movie = 12, False
    for _ in range(MAX_TOP_LEVEL):
        if position + 8 > riff_end:
            break
        stream.seek(position)
        kind, length = struct.unpack("<4sI", stream.read(8))
        if position + 8 + length > riff_end:
            return f"{_name(kind)}块超出文件范围"
        if kind == b"LIST" and stream.read(4) == b"movi":
            has_movie = True
        elif kind == b"idx1" and (length < INDEX_ENTRY or length % INDEX_ENTRY):
            return "索引（idx1）为空或已损坏"
        position += 8 + length + (length & 1)
    return None if has_movie else "缺少视频数据（movi）"


def _riff_runs_past_end(stream: BinaryIO, size: int) -> bool:
    position = 0
    for _ in range(MAX_RIFF_CHUNKS):
        if position + 8 > size:
            break
        stream.seek(position)
        kind, length = struct.unpack("<4sI", stream.read(8))
        if kind != b"RIFF":
            return False  # trailing bytes after the last RIFF chunk are harmless
        position += 8 + length + (length & 1)
    return position > size
