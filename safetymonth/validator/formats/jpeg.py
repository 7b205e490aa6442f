"""JPEG: size and EXIF orientation from the header (Pillow), truncation from the EOI marker.

Pillow's ``verify()`` does nothing for JPEG, so a photo cut off in transfer opens fine; the end
of image marker (FF D9) after the scan data is what proves it complete.
"""

from __future__ import annotations

from typing import BinaryIO

from safetymonth.config import Policy
from safetymonth.validator.formats.base import check_pixels, corrupt, find_after, new, oriented
from safetymonth.validator.formats.pillow import open_header, orientation
from safetymonth.validator.verdict import Kind, Verdict

END_OF_IMAGE = b"\xff\xd9"


def probe(stream: BinaryIO, size: int, policy: Policy) -> Verdict:
    verdict = new(Kind.PHOTO, "JPEG")
    image = open_header(stream, ["JPEG"])
    if image is None:
        return corrupt(verdict, "文件头无法读取")
    verdict.width, verdict.height = oriented(*image.size, orientation(image))
    scan_start = image.tile[0][2] if image.tile else 0
    if not find_after(stream, size, END_OF_IMAGE, scan_start):
        return corrupt(verdict, "文件不完整，缺少结束标记")
    return check_pixels(verdict, policy)
