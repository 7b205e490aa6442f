"""The boxes of an MP4/MOV file, walked by their headers, and what the walk records: ``mp4``
reads the headers it needs, ``mp4tables`` the sample tables and fragments."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

# Boxes looked at in one file. A long fragmented recording has a moof and an mdat per second
# or two; a file of millions of 8-byte boxes would keep this walker busy for minutes.
MAX_BOXES = 200_000


@dataclass
class Track:
    handler: bytes = b""
    track_id: int = 0  # tkhd
    width: float = 0.0  # tkhd presentation size (16.16 fixed point in the file)
    height: float = 0.0
    rotation: int = 0
    coded: tuple[int, int] = (0, 0)  # the sample entry's stored size
    pixel_aspect: float | None = None
    descriptions: int = 0  # stsd entries
    samples: int = 0  # stsz/stz2 sample count
    chunks: int = 0  # stco/co64 entry count
    codec: str = ""  # the sample entry's four letters (avc1, hvc1, mp4a...)
    config: tuple[bytes, bytes] | None = None  # the sample entry's avcC/hvcC/esds body
    timescale: int | None = None  # mdhd
    counts: dict[bytes, int] = field(default_factory=dict)  # entries of stts, stsc...
    last_first_chunk: int = 0  # the first chunk of stsc's last entry
    max_offset: int = 0  # the largest chunk offset read
    first_offset: int = 0  # of the first chunk
    first_size: int = 0  # of the first sample
    first_sync: int = 1  # the first sample stss lists as a keyframe (all are, without stss)


@dataclass
class Movie:
    brand: bytes | None = None
    has_moov: bool = False
    truncated: bool = False
    fragmented: bool = False  # an mvex in the moov: the samples are in moof boxes
    fragments: int = 0
    extended: set[int] = field(default_factory=set)  # track ids with a trex in the mvex
    problem: str | None = None  # the first structural error found
    tracks: list[Track] = field(default_factory=list)
    boxes: int = 0  # looked at so far

    def fail(self, problem: str) -> None:
        self.problem = self.problem or problem


def boxes(stream: BinaryIO, start: int, end: int,
           movie: Movie) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, start, end, header length) of each box between ``start`` and ``end``.
    A box shorter than its header ends the walk as a structural error; one that runs past
    ``end`` is yielded (at the top level it means truncation: the caller decides)."""
    position = start
    while position + 8 <= end:
        stream.seek(position)
        raw = stream.read(16)
        if len(raw) < 8:
            return
        length, kind = struct.unpack(">I4s", raw[:8])
        header = 8
        if length == 1 and len(raw) == 16:
            length, header = struct.unpack(">Q", raw[8:16])[0], 16
        elif length == 0:
            length = end - position
        if length < header:
            movie.fail(f"{box_name(kind)}盒子大小无效")
            return  # a broken box: stop rather than loop
        movie.boxes += 1
        if movie.boxes > MAX_BOXES:
            movie.fail("文件结构异常（盒子数量过多）")
            return
        yield kind, position, position + length, header
        position += length


def box_name(kind: bytes) -> str:
    """A box type for a message to the unit: its four letters, or "?" for bytes that are not
    (a control byte must never reach a reply)."""
    text = kind.decode("latin-1").strip()
    return text if text and all(" " < char < "\x7f" for char in text) else "?"
