"""Opening an image header with Pillow, and the other formats Pillow reads (GIF, BMP, TIFF,
WebP), which are recognised so the reply can name them, but are not campaign formats."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from safetymonth.config import Policy
from safetymonth.validator.formats import registry
from safetymonth.validator.formats.base import (
    ORIENTATION_TAG,
    check_pixels,
    corrupt,
    new,
    oriented,
)
from safetymonth.validator.verdict import Kind, Verdict

if TYPE_CHECKING:
    from PIL import Image


def open_header(stream: BinaryIO, fmt: str) -> Image.Image | None:
    """The image's header, read by its Pillow plugin. The plugin is called directly, not
    through ``Image.open``: that would apply Pillow's bomb guard, which refuses to even report
    the size of a bomb and is switched by a process-global (``Image.MAX_IMAGE_PIXELS``) that
    no thread may touch. We never decode pixels here, and judge bombs from the size ourselves.
    """
    from PIL import Image  # here, not at the top: config loads this module

    Image.init()
    factory, accept = Image.OPEN[fmt]
    stream.seek(0)
    head = stream.read(16)
    stream.seek(0)
    try:
        if accept and not accept(head):
            return None
        return factory(stream, "")
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError):
        return None


def orientation(image: Image.Image) -> int | None:
    """The EXIF orientation of a format whose EXIF Pillow reads with the header."""
    try:
        return image.getexif().get(ORIENTATION_TAG)
    except Exception:  # a broken EXIF block is not a broken photo
        return None


def probe(stream: BinaryIO, size: int, policy: Policy, fmt: str) -> Verdict:
    del size  # these formats are reported, not accepted: the header is enough
    verdict = new(Kind.PHOTO, fmt)
    image = open_header(stream, fmt)
    if image is None:
        return corrupt(verdict, "文件头无法读取")
    verdict.width, verdict.height = oriented(*image.size, orientation(image))
    return check_pixels(verdict, policy)


def _read(job: registry.Job) -> Verdict:
    return probe(job.stream, job.size, job.policy, job.named or "")


def _register(name: str, label: str, extensions: tuple[str, ...], magic: registry.Magic,
              aliases: tuple[str, ...] = (), fix: str | None = None) -> None:
    """A photo format whose header Pillow reads (``probe``); its name is its Pillow name."""
    registry.register(registry.Format(
        name, Kind.PHOTO, label=label, extensions=extensions, aliases=aliases, magic=magic,
        probe=_read, fix=fix, thumbnail="photo"))


_register("GIF", "GIF", (".gif",), registry.starts(b"GIF87a", b"GIF89a"))
_register("BMP", "BMP", (".bmp",), registry.starts(b"BM"))
_register("TIFF", "TIFF", (".tif", ".tiff"), registry.starts(b"II*\x00", b"MM\x00*"),
          aliases=("TIF",))
_register("WEBP", "WebP", (".webp",), lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
          fix="请转换为JPG后重新报送")
