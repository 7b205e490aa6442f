"""Opening an image header with Pillow, and the other formats Pillow reads (GIF, BMP, TIFF,
WebP), which are recognised so the reply can name them, but are not campaign formats."""

from __future__ import annotations

import warnings
from typing import BinaryIO

from PIL import Image

from safetymonth.config import Policy
from safetymonth.validator.formats.base import (
    ORIENTATION_TAG,
    check_pixels,
    corrupt,
    new,
    oriented,
)
from safetymonth.validator.verdict import Kind, Verdict


def open_header(stream: BinaryIO, formats: list[str]) -> Image.Image | None:
    """``Image.open`` reads only the header. Pillow's own bomb guard would refuse to even report
    the size of a bomb; we never decode pixels, and judge bombs from the size ourselves."""
    stream.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(stream, formats=formats)
        except (OSError, SyntaxError, ValueError, EOFError):
            return None
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def orientation(image: Image.Image) -> int | None:
    """The EXIF orientation of a format whose EXIF Pillow reads with the header."""
    try:
        return image.getexif().get(ORIENTATION_TAG)
    except Exception:  # a broken EXIF block is not a broken photo
        return None


def probe(stream: BinaryIO, size: int, policy: Policy, fmt: str) -> Verdict:
    del size  # these formats are reported, not accepted: the header is enough
    verdict = new(Kind.PHOTO, fmt)
    image = open_header(stream, [fmt])
    if image is None:
        return corrupt(verdict, "文件头无法读取")
    verdict.width, verdict.height = oriented(*image.size, orientation(image))
    return check_pixels(verdict, policy)
