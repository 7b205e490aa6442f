"""A format of the tests' own, registered from this module alone, the way a plugin in
safetymonth/validator/formats/ registers its format: "TOY" photos, the magic ``TOY1`` and then
the width and height as big-endian 32-bit numbers. Importing this module registers it; no file
of the product names it."""

from __future__ import annotations

import struct

from safetymonth.validator.formats import registry
from safetymonth.validator.formats.base import check_pixels, corrupt, new
from safetymonth.validator.verdict import Kind, Verdict

MAGIC = b"TOY1"
HEADER = struct.Struct(">4sII")
LABEL = "玩具图"
FIX = "请把玩具图另存为JPG后重新报送"
BROKEN = "玩具图文件头不完整"


def make(width: int, height: int) -> bytes:
    """A TOY file of the given size (the pixels are not the point)."""
    return HEADER.pack(MAGIC, width, height) + bytes(64)


def probe(job: registry.Job) -> Verdict:
    verdict = new(Kind.PHOTO, "TOY")
    job.stream.seek(0)
    raw = job.stream.read(HEADER.size)
    if len(raw) < HEADER.size:
        return corrupt(verdict, BROKEN)
    _, verdict.width, verdict.height = HEADER.unpack(raw)
    return check_pixels(verdict, job.policy)


TOY = registry.register(registry.Format(
    "TOY", Kind.PHOTO, label=LABEL, extensions=(".toy",), aliases=("TOYIMG",),
    magic=registry.starts(MAGIC), probe=probe, fix=FIX, thumbnail="photo"))
