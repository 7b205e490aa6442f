"""The JPEG decode check reads a colour photo's scan in grey when that cannot change the
outcome: the verdict stays "corrupt exactly when a full Pillow load fails", for every
sampling layout cameras write, progressive or not, and for the layouts libjpeg refuses to
upsample in colour (which it would not notice in grey)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from PIL import Image, JpegImagePlugin

from safetymonth.config import PhotoRule, Policy
from safetymonth.validator import Code, check_file
from safetymonth.validator.formats import jpeg
from safetymonth.validator.sandbox import Source
from tests.support.media_corpus import pillow_loads

ANY_SIZE = Policy(photo=PhotoRule(formats=["JPEG"], min_long_side=1, min_short_side=1))
LAYOUTS = {"4:2:0": {"subsampling": 2}, "4:2:2": {"subsampling": 1},
           "4:4:4": {"subsampling": 0}, "progressive": {"progressive": True}}
# Sampling factors (horizontal × 16 + vertical) written over a 4:4:4 photo's three
# components; libjpeg decodes the first three in colour and refuses the last two
# ("fractional sampling not implemented": 3 is no multiple of 2).
FACTORS = {"4:2:0 written": (0x22, 0x11, 0x11), "4:1:1": (0x41, 0x11, 0x11),
           "chroma wider": (0x11, 0x21, 0x11), "3 over 2 across": (0x31, 0x21, 0x11),
           "3 over 2 down": (0x13, 0x11, 0x12)}


def _photo(options: dict[str, object]) -> bytes:
    picture = Image.effect_noise((640, 480), 40).convert("RGB")
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=88, **options)
    return out.getvalue()


def _corrupt(path: Path) -> bool:
    [verdict] = check_file(path, ANY_SIZE)
    assert (verdict.format, verdict.width, verdict.height) == ("JPEG", 640, 480)
    return Code.CORRUPT in [reason.code for reason in verdict.reasons]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_garbled_scan_fails_the_decode_exactly_when_pillow_cannot_load_it(
        tmp_path: Path, layout: str) -> None:
    data = _photo(LAYOUTS[layout])
    scan = data.index(b"\xff\xda")
    rng = random.Random(23)
    outcomes = []
    for index in range(40):
        mutant = bytearray(data)
        for _ in range(rng.randint(1, 4)):  # a byte changed, or a marker written (odd)
            at = rng.randrange(scan + 20, len(mutant) - 1)
            mutant[at:at + 1 + index % 2] = bytes([0xFF] * (index % 2) + [rng.randrange(256)])
        path = tmp_path / f"{index}.jpg"
        path.write_bytes(bytes(mutant))
        # The decode alone: the marker walk before it has verdicts of its own.
        outcomes.append((jpeg.decode(Source(str(path))) is not None, not pillow_loads(path)))
    assert all(ours == pillow for ours, pillow in outcomes)
    assert {pillow for _, pillow in outcomes} == {True, False}  # the test bites


@pytest.mark.parametrize("name", FACTORS)
def test_sampling_layouts_libjpeg_refuses_in_colour_are_corrupt(tmp_path: Path,
                                                                name: str) -> None:
    data = bytearray(_photo({"subsampling": 0}))
    first_component = data.index(b"\xff\xc0") + 10  # length, precision, size, count
    for component, factors in enumerate(FACTORS[name]):
        data[first_component + 3 * component + 1] = factors
    path = tmp_path / "layout.jpg"
    path.write_bytes(bytes(data))
    assert _corrupt(path) is (not pillow_loads(path))
    assert _corrupt(path) is name.startswith("3 over 2")


def test_colour_photos_are_decoded_in_grey_and_others_in_their_own_mode(
        tmp_path: Path) -> None:
    """Where the saving comes from: the worker's decode skips the colour components."""
    modes = {}
    for name, picture in {"colour": Image.new("RGB", (64, 48), "red"),
                          "grey": Image.new("L", (64, 48), 90),
                          "cmyk": Image.new("CMYK", (64, 48), (0, 90, 90, 0))}.items():
        path = tmp_path / f"{name}.jpg"
        picture.save(path, quality=90)
        with path.open("rb") as stream:
            modes[name] = jpeg._cheapest_mode(JpegImagePlugin.JpegImageFile(stream))
        assert jpeg.decode(Source(str(path))) is None
    assert modes == {"colour": "L", "grey": "L", "cmyk": "CMYK"}
