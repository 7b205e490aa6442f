"""PNG, read chunk by chunk without Pillow: IHDR for the size, eXIf for the orientation, IEND
for completeness.

Pillow's ``getexif()`` on a PNG decodes the whole image to look for a late eXIf chunk (about
50 ms for a photo), so the chunks before the image data are walked here instead.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

from PIL import Image

from safetymonth.config import Policy
from safetymonth.validator.formats.base import (
    ORIENTATION_TAG,
    check_pixels,
    corrupt,
    new,
    oriented,
    read_tail,
)
from safetymonth.validator.verdict import Kind, Verdict

SIGNATURE = b"\x89PNG\r\n\x1a\n"
IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
MAX_EXIF_SIZE = 1024 * 1024


def probe(stream: BinaryIO, size: int, policy: Policy) -> Verdict:
    verdict = new(Kind.PHOTO, "PNG")
    stream.seek(len(SIGNATURE))
    header = stream.read(25)
    if len(header) < 25 or header[4:8] != b"IHDR" or not _crc_ok(header[4:21], header[21:25]):
        return corrupt(verdict, "文件头无法读取")
    width, height = struct.unpack(">II", header[8:16])
    if width == 0 or height == 0:
        return corrupt(verdict, "图像尺寸为0")
    verdict.width, verdict.height = oriented(width, height, _orientation(stream, size))
    if not _ends_with_iend(stream, size):
        return corrupt(verdict, "文件不完整，缺少结束标记")
    return check_pixels(verdict, policy)


def _crc_ok(body: bytes, crc: bytes) -> bool:
    return zlib.crc32(body) == struct.unpack(">I", crc)[0]


def _orientation(stream: BinaryIO, size: int) -> int | None:
    """The orientation from an eXIf chunk placed before the image data, where it belongs."""
    position = len(SIGNATURE)
    while position + 8 <= size:
        stream.seek(position)
        length, kind = struct.unpack(">I4s", stream.read(8))
        if kind in (b"IDAT", b"IEND"):
            return None
        if kind == b"eXIf" and length <= MAX_EXIF_SIZE:
            exif = Image.Exif()
            try:
                exif.load(stream.read(length))
            except Exception:  # a broken EXIF block is not a broken photo
                return None
            return exif.get(ORIENTATION_TAG)
        position += 12 + length
    return None


def _ends_with_iend(stream: BinaryIO, size: int) -> bool:
    """IEND closes the file; some tools append bytes after it, which is harmless."""
    _, tail = read_tail(stream, size)
    return tail.endswith(IEND) or IEND in tail
