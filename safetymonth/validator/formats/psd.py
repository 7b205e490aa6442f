"""Photoshop PSD and PSB, from the 26-byte header and the section lengths that follow it.

Pillow refuses 16-bit PSD and all PSB files, which a design office sends as often as 8-bit
ones, so the header is read directly. The colour mode must be one a viewer knows, with the
channels it needs (an RGB image of two channels opens nowhere). The last section, the merged
image data, must fit the file: raw data is channels × rows × row bytes; RLE data is a table of
byte counts (one per row per channel) and the rows it counts. Every length read from the file
(PSB's are 8 bytes, up to 2^64) is checked against the file's size before it is used as an
offset, so a lying length is a verdict, never a ``seek`` that overflows.

With ``policy.photo.decode: scaled`` the RLE rows are unpacked too (counted, never kept), in a
sandbox worker: each must unpack to exactly one row, which is how Pillow and ffmpeg read them
one after the other; a row that unpacks short shifts every later one, and both refuse it.
ZIP image data (methods 2 and 3, which neither Pillow nor ffmpeg reads) is inflated there,
counted and not kept: it must be one whole deflate stream of exactly the image's bytes. Until
then any bytes at all passed, so a file whose section lengths point into its RLE table, where
a ``0002`` reads as "ZIP", was ``ok``.
"""

from __future__ import annotations

import functools
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from safetymonth.config import Policy
from safetymonth.validator.formats import registry
from safetymonth.validator.formats.base import (
    READ_ERRORS,
    check_pixels,
    corrupt,
    new,
    sandboxed,
)
from safetymonth.validator.sandbox import Source
from safetymonth.validator.verdict import Kind, Verdict

HEADER = struct.Struct(">4sH6xHIIHH")  # signature, version, channels, height, width, depth, mode
DEPTHS = {1, 8, 16, 32}
MAX_SIDE = {1: 30_000, 2: 300_000}  # PSD and PSB
MAX_CHANNELS = 56
# The colour modes and the channels each needs at least: bitmap, grayscale, indexed, RGB,
# CMYK, multichannel, duotone, Lab. Others (mode 5 and 6 were never used) open nowhere.
MODE_CHANNELS = {0: 1, 1: 1, 2: 1, 3: 3, 4: 4, 7: 1, 8: 1, 9: 3}
BITMAP = 0
RAW, RLE = 0, 1
COUNTS_PER_READ = 65536
ZIP_METHODS = {2, 3}  # deflate, with and without prediction
INFLATE_PIECE = 1 << 20  # bytes read, and at most inflated, at a time
SHORT_ROW = 256  # packed rows up to this long are remembered (:func:`_short_row_length`)
NO_OP = 128  # a PackBits header no encoder writes: Pillow skips it, ffmpeg repeats 129 bytes


@dataclass(frozen=True)
class Image:
    channels: int
    width: int
    height: int
    depth: int

    @property
    def rows(self) -> int:
        return self.channels * self.height

    @property
    def row_bytes(self) -> int:
        return -(-(self.width * self.depth) // 8)


@dataclass(frozen=True)
class Deflated:
    """Where a sandbox worker finds ZIP image data, and the bytes it must inflate to."""

    start: int
    expected: int


@dataclass(frozen=True)
class Rows:
    """Where a sandbox worker finds the RLE rows: the count table's offset, the width of a
    count (2 bytes in PSD, 4 in PSB), how many rows and how many bytes each must unpack to."""

    table: int
    count_width: int
    rows: int
    row_bytes: int


def probe(stream: BinaryIO, size: int, policy: Policy, source: Source) -> Verdict:
    verdict = new(Kind.PHOTO, "PSD")
    stream.seek(0)
    raw = stream.read(HEADER.size)
    if len(raw) < HEADER.size:
        return corrupt(verdict, "文件头不完整")
    signature, version, channels, height, width, depth, mode = HEADER.unpack(raw)
    if signature != b"8BPS" or version not in MAX_SIDE or depth not in DEPTHS:
        return corrupt(verdict, "文件头无法识别")
    if not (0 < width <= MAX_SIDE[version] and 0 < height <= MAX_SIDE[version]
            and 0 < channels <= MAX_CHANNELS):
        return corrupt(verdict, "文件头中的尺寸无效")
    problem = _mode_problem(mode, channels, depth)
    if problem:
        return corrupt(verdict, problem)
    verdict.width, verdict.height = width, height
    check_pixels(verdict, policy)
    if not verdict.ok:  # a bomb's count table is never read
        return verdict
    image = Image(channels, width, height, depth)
    rows = _image_data(stream, size, version, image)
    if rows is None:
        return corrupt(verdict, "文件不完整，图像数据缺失或被截断")
    if isinstance(rows, Rows | Deflated) and policy.photo.decode == "scaled":
        check = rle_problem if isinstance(rows, Rows) else inflate_problem
        outcome = sandboxed(verdict, policy, check, source, rows)
        if isinstance(outcome, str):
            return corrupt(verdict, outcome)
    return verdict


def _mode_problem(mode: int, channels: int, depth: int) -> str | None:
    """Why the colour mode cannot be shown with these channels and this depth, or None."""
    if mode not in MODE_CHANNELS:
        return "颜色模式无法识别"
    if channels < MODE_CHANNELS[mode]:
        return f"颜色通道不足（{channels}个，该颜色模式至少需要{MODE_CHANNELS[mode]}个）"
    if (mode == BITMAP) != (depth == 1):  # 1 bit per channel is bitmap's, and only bitmap's
        return "颜色模式与位深度不符"
    return None


def _image_data(stream: BinaryIO, size: int, version: int,
                image: Image) -> Rows | Deflated | bool | None:
    """Colour mode, image resources and layers each declare a length; the image data must
    still follow them, whole, inside the file. None when it does not; the RLE rows to unpack
    when it is RLE, the deflate stream when it is ZIP; True otherwise."""
    position = _after_sections(stream, size, version)
    if position is None:
        return None
    stream.seek(position)
    compression = stream.read(2)
    if len(compression) < 2:
        return None
    method = int.from_bytes(compression, "big")
    needed = _image_data_size(stream, method, version, image)
    if needed is None or position + 2 + needed > size:
        return None
    if method == RLE:
        return Rows(position + 2, 2 if version == 1 else 4, image.rows, image.row_bytes)
    if method in ZIP_METHODS:
        return Deflated(position + 2, image.rows * image.row_bytes)
    return True


def _after_sections(stream: BinaryIO, size: int, version: int) -> int | None:
    """The offset of the image data section, or None when a section's length (four bytes,
    the layers' eight in PSB) runs past the end of the file."""
    position = HEADER.size
    for width in (4, 4, 4 if version == 1 else 8):
        stream.seek(position)
        field = stream.read(width)
        if len(field) < width:
            return None
        position += width + int.from_bytes(field, "big")
        if position > size:
            return None
    return position


def _image_data_size(stream: BinaryIO, compression: int, version: int,
                     image: Image) -> int | None:
    """The bytes the image data section needs after its compression field, or None when it
    cannot be known (an unknown method, or a count table cut short)."""
    if compression == RAW:
        return image.rows * image.row_bytes
    if compression == RLE:
        width = 2 if version == 1 else 4
        total = 0
        for first in range(0, image.rows, COUNTS_PER_READ):  # bounded memory for any count
            count = min(COUNTS_PER_READ, image.rows - first)
            table = stream.read(count * width)
            if len(table) < count * width:
                return None
            total += sum(struct.unpack(f">{count}{'H' if width == 2 else 'I'}", table))
        return image.rows * width + total
    if compression in ZIP_METHODS:
        return 1  # deflated: no size to check beyond "something is there"
    return None


def rle_problem(source: Source, rows: Rows) -> str | None:
    """Runs in a sandbox worker: each RLE row, as its count says, unpacked (counted, not
    kept). None when every row unpacks to exactly ``rows.row_bytes``, else what is wrong."""
    try:
        with source.open() as stream:
            return _rows_problem(stream, rows)
    except READ_ERRORS:  # a zip member's bytes that fail their CRC, a short read
        return "图像数据无法读取"


def inflate_problem(source: Source, data: Deflated) -> str | None:
    """Runs in a sandbox worker: the ZIP image data inflated in pieces (counted, never more
    than a piece kept). None when it is one whole deflate stream of ``data.expected``
    bytes, else what is wrong."""
    try:
        with source.open() as stream:
            stream.seek(data.start)
            return _inflate_problem(stream, data.expected)
    except (*READ_ERRORS, zlib.error):
        return "图像数据损坏（压缩数据无法解压）"


def _inflate_problem(stream: BinaryIO, expected: int) -> str | None:
    inflater, produced = zlib.decompressobj(), 0
    while not inflater.eof:
        piece = inflater.unconsumed_tail or stream.read(INFLATE_PIECE)
        if not piece:
            return "图像数据不完整（压缩数据被截断）"
        produced += len(inflater.decompress(piece, INFLATE_PIECE))
        if produced > expected:  # a bomb stops here, one piece past the image
            return "图像数据损坏（解压后的大小与图像尺寸不符）"
    return None if produced == expected else "图像数据损坏（解压后的大小与图像尺寸不符）"


def _rows_problem(stream: BinaryIO, rows: Rows) -> str | None:
    code = ">" + ("H" if rows.count_width == 2 else "I")
    table, data = rows.table, rows.table + rows.rows * rows.count_width
    for first in range(0, rows.rows, COUNTS_PER_READ):  # bounded memory for any count
        stream.seek(table + first * rows.count_width)
        counts = stream.read(min(COUNTS_PER_READ, rows.rows - first) * rows.count_width)
        stream.seek(data)
        for (count,) in struct.iter_unpack(code, counts):
            row = stream.read(count)
            length = _short_row_length(row) if count <= SHORT_ROW else unpacked_length(row)
            if length != rows.row_bytes:
                return "图像数据损坏（压缩行的长度与图像宽度不符）"
            data += count
    return None


@functools.lru_cache(maxsize=1024)
def _short_row_length(row: bytes) -> int:
    """:func:`unpacked_length`, remembered: a flat background packs every row to the same few
    bytes (a poster's 1920 white pixels are 30), so its rows cost a lookup each, not a walk
    of their runs. Long rows are photo rows, seldom repeated: not kept (the worker's memory
    for this stays under 1024 short rows)."""
    return unpacked_length(row)


def unpacked_length(row: bytes) -> int:
    """The bytes a PackBits row unpacks to; -1 when a run is cut off by the row's end or the
    header is the no-op no encoder writes (Pillow and ffmpeg read it differently)."""
    out = at = 0
    end = len(row)
    while at < end:
        header = row[at]
        if header < NO_OP:  # a literal run of header + 1 bytes
            out += header + 1
            at += header + 2
        elif header > NO_OP:  # one byte repeated 257 - header times
            out += 257 - header
            at += 2
        else:
            return -1
    return out if at == end else -1


registry.register(registry.Format(
    "PSD", Kind.PHOTO, extensions=(".psd", ".psb"), magic=registry.starts(b"8BPS"),
    probe=lambda job: probe(job.stream, job.size, job.policy, job.source),
    sandbox=(__name__,), thumbnail="photo"))
