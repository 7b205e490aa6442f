"""JPEG: size, orientation and completeness from the marker segments; the picture itself from
a decode at 1/8 scale in a sandbox worker.

The segments are walked from SOI: each APPn, DQT, DHT and SOF segment is skipped by its
declared length, so the FF D9 that closes the EXIF thumbnail inside APP1 is never mistaken for
the photo's end. Each SOS is followed by entropy-coded data up to the next real marker; the
photo is complete when the EOI marker follows the last scan of the **primary** image. Whatever
comes after that EOI (an Android motion photo's video, an MPO's second picture) is not looked
at. Pillow's ``verify()`` does nothing for JPEG, and a header read does not see a cut or
garbled scan, hence the decode (``policy.photo.decode: scaled``): ``draft()`` lets libjpeg
reconstruct 1/8 of the pixels while it still reads every Huffman code to the end of the scan.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

from safetymonth.config import Policy
from safetymonth.validator.formats import registry
from safetymonth.validator.formats.base import (
    check_pixels,
    corrupt,
    exif_orientation,
    new,
    oriented,
    sandboxed,
)
from safetymonth.validator.sandbox import Source
from safetymonth.validator.verdict import Kind, Verdict

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn carry no length
# Start of frame: baseline, extended, progressive, lossless, hierarchical and arithmetic
# variants; 0xC4 (DHT), 0xC8 (JPG) and 0xCC (DAC) share the range but are not frames.
SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# In entropy-coded data, FF is followed by 00 (a stuffed byte), a restart marker or FF fill;
# anything else is the next marker. The match is at that marker's FF.
NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
BLOCK = 1024 * 1024
MAX_EXIF = 64 * 1024  # APP1 cannot be longer
# Segments and fill bytes walked: a progressive photo has a few dozen; a file of a million
# tiny comment segments would keep the walk busy for seconds.
MAX_SEGMENTS = 20_000


@dataclass
class Layout:
    """What the marker walk found."""

    width: int = 0
    height: int = 0
    orientation: int | None = None
    problem: str | None = None  # None: the primary image is complete


def probe(stream: BinaryIO, size: int, policy: Policy, source: Source) -> Verdict:
    verdict = new(Kind.PHOTO, "JPEG")
    layout = read_layout(stream, size)
    if not (layout.width and layout.height):
        return corrupt(verdict, layout.problem or "文件头无法读取")
    verdict.width, verdict.height = oriented(layout.width, layout.height, layout.orientation)
    if layout.problem:
        return corrupt(verdict, layout.problem)
    check_pixels(verdict, policy)
    if verdict.ok and policy.photo.decode == "scaled":
        outcome = sandboxed(verdict, policy, decode, source)
        if isinstance(outcome, str):
            return corrupt(verdict, outcome)
    return verdict


class Window:
    """Reads at offsets that only move forward, served from the last block read where they
    fall inside it, so the stream itself never seeks backwards: a zip member (``ZipExtFile``)
    would inflate again from its start on every step back."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._start, self._data = 0, b""
        self._at_end = False  # the last block read reached the end of the stream

    def read(self, position: int, length: int) -> bytes:
        offset = position - self._start
        if offset >= 0 and (offset + length <= len(self._data) or self._at_end):
            return self._data[offset:offset + length]
        self._stream.seek(position)
        wanted = max(length, BLOCK + 1)
        self._start, self._data = position, self._stream.read(wanted)
        self._at_end = len(self._data) < wanted
        return self._data[:length]


def read_layout(stream: BinaryIO, size: int) -> Layout:
    """Walk the segments of the primary image from SOI to its EOI."""
    window = Window(stream)
    layout = Layout()
    position, scanned = 2, False
    for _ in range(MAX_SEGMENTS):
        head = window.read(position, 4)
        if len(head) < 2:
            layout.problem = "文件不完整，缺少结束标记"
            return layout
        if head[0] != 0xFF:  # stray bytes: libjpeg skips to the next marker, and so do we
            found = _after_scan(window, position, size)
            if found is None:
                layout.problem = "文件不完整，缺少结束标记"
                return layout
            position = found
            continue
        marker = head[1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == EOI:
            if not scanned:
                layout.problem = "缺少图像数据"
            return layout
        if marker in STANDALONE or marker == SOI:
            position += 2
            continue
        if len(head) < 4:
            layout.problem = "文件不完整，缺少结束标记"
            return layout
        end = position + 2 + struct.unpack(">H", head[2:4])[0]
        if end > size:
            layout.problem = "文件不完整，可能在传输中被截断"
            return layout
        _read_segment(window, marker, position + 4, end, layout)
        if marker == SOS:
            scanned = True
            found = _after_scan(window, end, size)
            if found is None:
                layout.problem = "文件不完整，图像数据被截断"
                return layout
            end = found
        position = end
    layout.problem = "文件结构异常（标记段数量过多）"
    return layout


def _read_segment(window: Window, marker: int, body: int, end: int, layout: Layout) -> None:
    if marker in SOF_MARKERS and not layout.width:
        data = window.read(body, 5)
        if len(data) == 5:
            layout.height, layout.width = struct.unpack(">HH", data[1:5])
    elif marker == 0xE1 and layout.orientation is None and end - body <= MAX_EXIF:
        data = window.read(body, end - body)
        if data.startswith(b"Exif\x00\x00"):
            layout.orientation = exif_orientation(data[6:])


def _after_scan(window: Window, start: int, size: int) -> int | None:
    """The offset of the first marker after the entropy-coded data starting at ``start``."""
    position = start
    while position < size:
        block = window.read(position, BLOCK + 1)  # one more: a marker split across blocks
        match = NEXT_MARKER.search(block)
        if match:
            return position + match.start()
        if len(block) <= 1:
            return None
        position += len(block) - 1
    return None


def decode(source: Source) -> str | None:
    """Runs in a sandbox worker: the primary image decoded at 1/8 scale, to the end of its
    scan. None when it decodes, else what is wrong. Pillow's bomb guard is not involved: the
    caller judged the declared size already, and the plugin is called without ``Image.open``.

    A colour photo is decoded to grey (:func:`_cheapest_mode`): libjpeg still reads every
    Huffman code of all three components, which is what can fail, and skips the colour
    components' inverse DCT, their upsampling and the colour conversion, which cannot."""
    from PIL import JpegImagePlugin  # here, not at the top: config loads this module

    with source.open() as stream:
        try:
            image = JpegImagePlugin.JpegImageFile(stream)
            width, height = image.size
            image.draft(_cheapest_mode(image), (-(-width // 8), -(-height // 8)))
            image.load()
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
            return _decode_problem(error)
    return None


def _cheapest_mode(image: Any) -> str:
    """``L`` for a three-component photo whose components' sampling factors each divide the
    largest (every camera's 4:4:4, 4:2:2, 4:2:0): for those, libjpeg's upsampling in colour
    cannot fail either, so grey decodes exactly when colour does. Any other layout (and
    grey or CMYK photos) is decoded in the photo's own mode, as before: libjpeg refuses
    fractional upsampling ratios, but only for the components it outputs."""
    factors = [(horizontal, vertical) for _, horizontal, vertical, _ in image.layer]
    if image.mode != "RGB" or len(factors) != 3 or not all(h and v for h, v in factors):
        return str(image.mode)
    widest = max(h for h, _ in factors)
    tallest = max(v for _, v in factors)
    if all(widest % h == 0 and tallest % v == 0 for h, v in factors):
        return "L"
    return str(image.mode)


def _decode_problem(error: Exception) -> str:
    if "truncated" in str(error):
        return "图像数据被截断"
    return "图像数据无法解码"


registry.register(registry.Format(
    "JPEG", Kind.PHOTO, label="JPG", extensions=(".jpg", ".jpeg", ".jpe", ".jfif"),
    aliases=("JPG",), magic=registry.starts(b"\xff\xd8\xff"),
    probe=lambda job: probe(job.stream, job.size, job.policy, job.source),
    sandbox=("PIL.JpegImagePlugin",), thumbnail="photo", content_type="image/jpeg"))
