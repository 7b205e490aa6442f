"""Photoshop PSD and PSB, from the 26-byte header and the section lengths that follow it.

Pillow refuses 16-bit PSD and all PSB files, which a design office sends as often as 8-bit
ones, so the header is read directly.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from safetymonth.config import Policy
from safetymonth.validator.formats.base import check_pixels, corrupt, new
from safetymonth.validator.verdict import Kind, Verdict

HEADER = struct.Struct(">4sH6xHIIHH")  # signature, version, channels, height, width, depth, mode
DEPTHS = {1, 8, 16, 32}
MAX_SIDE = {1: 30_000, 2: 300_000}  # PSD and PSB


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
    if not _sections_fit(stream, size, version):
        return corrupt(verdict, "文件不完整")
    return check_pixels(verdict, policy)


def _sections_fit(stream: BinaryIO, size: int, version: int) -> bool:
    """Colour mode, image resources and layers each declare a length; the image data
    (at least its 2-byte compression field) must still follow them inside the file."""
    position = HEADER.size
    for width in (4, 4, 4 if version == 1 else 8):
        stream.seek(position)
        field = stream.read(width)
        if len(field) < width:
            return False
        position += width + int.from_bytes(field, "big")
    return position + 2 <= size
