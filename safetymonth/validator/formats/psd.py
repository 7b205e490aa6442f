"""Photoshop PSD and PSB, from the 26-byte header and the section lengths that follow it.

Pillow refuses 16-bit PSD and all PSB files, which a design office sends as often as 8-bit
ones, so the header is read directly. The last section, the merged image data, must fit the
file: raw data is channels × rows × row bytes; RLE data is a table of byte counts (one per row
per channel) and the rows it counts. Only the table is read, never the pixels.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from safetymonth.config import Policy
from safetymonth.validator.formats.base import check_pixels, corrupt, new
from safetymonth.validator.verdict import Kind, Verdict

HEADER = struct.Struct(">4sH6xHIIHH")  # signature, version, channels, height, width, depth, mode
DEPTHS = {1, 8, 16, 32}
MAX_SIDE = {1: 30_000, 2: 300_000}  # PSD and PSB
RAW, RLE = 0, 1
COUNTS_PER_READ = 65536
ZIP_METHODS = {2, 3}  # deflate, with and without prediction


@dataclass(frozen=True)
class Image:
    channels: int
    width: int
    height: int
    depth: int


def probe(stream: BinaryIO, size: int, policy: Policy) -> Verdict:
    verdict = new(Kind.PHOTO, "PSD")
    stream.seek(0)
    raw = stream.read(HEADER.size)
    if len(raw) < HEADER.size:
        return corrupt(verdict, "文件头不完整")
    signature, version, channels, height, width, depth, _mode = HEADER.unpack(raw)
    if signature != b"8BPS" or version not in MAX_SIDE or depth not in DEPTHS:
        return corrupt(verdict, "文件头无法识别")
    if not (0 < width <= MAX_SIDE[version] and 0 < height <= MAX_SIDE[version]
            and 0 < channels <= 56):
        return corrupt(verdict, "文件头中的尺寸无效")
    verdict.width, verdict.height = width, height
    check_pixels(verdict, policy)
    if not verdict.ok:  # a bomb's count table is never read
        return verdict
    if not _sections_fit(stream, size, version, Image(channels, width, height, depth)):
        return corrupt(verdict, "文件不完整，图像数据缺失或被截断")
    return verdict


def _sections_fit(stream: BinaryIO, size: int, version: int, image: Image) -> bool:
    """Colour mode, image resources and layers each declare a length; the image data
    must still follow them, whole, inside the file."""
    position = HEADER.size
    for width in (4, 4, 4 if version == 1 else 8):
        stream.seek(position)
        field = stream.read(width)
        if len(field) < width:
            return False
        position += width + int.from_bytes(field, "big")
    stream.seek(position)
    compression = stream.read(2)
    if len(compression) < 2:
        return False
    needed = _image_data_size(stream, int.from_bytes(compression, "big"), version, image)
    return needed is not None and position + 2 + needed <= size


def _image_data_size(stream: BinaryIO, compression: int, version: int,
                     image: Image) -> int | None:
    """The bytes the image data section needs after its compression field, or None when it
    cannot be known (an unknown method, or a count table cut short)."""
    rows = image.channels * image.height
    if compression == RAW:
        return rows * -(-(image.width * image.depth) // 8)
    if compression == RLE:
        width = 2 if version == 1 else 4
        total = 0
        for first in range(0, rows, COUNTS_PER_READ):  # bounded memory for any row count
            count = min(COUNTS_PER_READ, rows - first)
            table = stream.read(count * width)
            if len(table) < count * width:
                return None
            total += sum(struct.unpack(f">{count}{'H' if width == 2 else 'I'}", table))
        return rows * width + total
    if compression in ZIP_METHODS:
        return 1  # deflated: no size to check beyond "something is there"
    return None
