"""Photos actually checked: a JPEG decoded at 1/8 scale to the end of its primary image, a
PNG's image data inflated and counted, a PSD's image data found whole; and the containers the
campaign refuses told to send an MP4 whatever state their tracks are in.

Each broken file is cross-checked with a full Pillow load (or ffprobe) of the same bytes.
"""

from __future__ import annotations

import random
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from PIL import Image

from safetymonth import samples
from safetymonth.config import PhotoRule, Policy
from safetymonth.validator import Code, Verdict, check_file
from tests.support.media_corpus import ffmpeg, pillow_loads

STRUCTURE_ONLY = Policy(photo=PhotoRule(formats=["JPEG", "PNG", "PSD"], min_long_side=1920,
                                        min_short_side=1080, decode="off"))


def codes(verdict: Verdict) -> list[Code]:
    return [reason.code for reason in verdict.reasons]


@pytest.fixture(scope="module")
def camera_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2400×1600 photo as a camera writes it: noisy content, EXIF with make, model and an
    orientation, and a 160×120 JPEG thumbnail in IFD1 (written by exiftool)."""
    folder = tmp_path_factory.mktemp("camera")
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "EOS 80D", 1
    picture = Image.effect_noise((2400, 1600), 50).convert("RGB")
    path = folder / "IMG_0001.JPG"
    picture.save(path, quality=90, exif=exif.tobytes())
    thumbnail = folder / "thumb.jpg"
    picture.resize((160, 120)).save(thumbnail, quality=80)
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-ThumbnailImage<={thumbnail}",
                    str(path)], check=True, timeout=60)
    return path


def test_a_camera_jpeg_cut_mid_scan_is_corrupt_although_its_thumbnail_is_whole(
        tmp_path: Path, camera_jpeg: Path, policy: Policy) -> None:
    data = camera_jpeg.read_bytes()
    thumbnail = subprocess.run(["exiftool", "-b", "-ThumbnailImage", str(camera_jpeg)],
                               capture_output=True, check=True, timeout=60).stdout
    thumbnail_end = data.index(thumbnail) + len(thumbnail)
    assert thumbnail.endswith(b"\xff\xd9") and thumbnail_end < len(data) // 10
    [whole] = check_file(camera_jpeg, policy)
    assert (whole.ok, whole.width, whole.height) == (True, 2400, 1600)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) * 6 // 10])  # the thumbnail's FF D9 is kept, EOI is not
    assert b"\xff\xd9" in cut.read_bytes()
    for rules in (policy, STRUCTURE_ONLY):  # the marker walk alone sees it
        [verdict] = check_file(cut, rules)
        assert (verdict.width, verdict.height, codes(verdict)) == (2400, 1600, [Code.CORRUPT])
    assert not pillow_loads(cut)


def _mutants(data: bytes, seed: int, count: int, start: int) -> list[bytes]:
    """Copies of ``data`` with one to eight bytes replaced after offset ``start``."""
    rng = random.Random(seed)
    mutants = []
    for _ in range(count):
        mutant = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            mutant[rng.randrange(start, len(mutant))] = rng.randrange(256)
        mutants.append(bytes(mutant))
    return mutants


@pytest.mark.slow  # among the heaviest of the fast loop (--durations)
def test_mutated_jpegs_are_corrupt_exactly_when_pillow_cannot_decode_them(
        tmp_path: Path, camera_jpeg: Path, policy: Policy) -> None:
    data = camera_jpeg.read_bytes()
    scan = data.rindex(b"\xff\xda")  # the headers stay intact: only the picture is hit
    outcomes = {}
    for index, mutant in enumerate(_mutants(data, seed=8, count=120, start=scan + 20)):
        path = tmp_path / f"m{index}.jpg"
        path.write_bytes(mutant)
        [verdict] = check_file(path, policy)
        assert (verdict.width, verdict.height) == (2400, 1600)
        outcomes[index] = (verdict.ok, pillow_loads(path))
    assert all(ours == pillow for ours, pillow in outcomes.values())
    assert sum(not pillow for _, pillow in outcomes.values()) >= 3  # the test bites


def test_decode_off_trusts_the_structure(tmp_path: Path, camera_jpeg: Path) -> None:
    data = camera_jpeg.read_bytes()
    scan = data.rindex(b"\xff\xda")
    broken = next(mutant for mutant in _mutants(data, seed=8, count=120, start=scan + 20)
                  if not _loads_bytes(tmp_path, mutant))
    path = tmp_path / "garbled.jpg"
    path.write_bytes(broken)
    [verdict] = check_file(path, STRUCTURE_ONLY)
    assert verdict.ok  # the marker structure is whole; only a decode sees the damage


def _loads_bytes(folder: Path, data: bytes) -> bool:
    path = folder / "probe.jpg"
    path.write_bytes(data)
    return pillow_loads(path)


def _png(width: int, height: int, rows: list[bytes], cut: float = 1.0) -> bytes:
    """A grey 8-bit PNG written chunk by chunk; ``rows`` replaces its filtered scanlines,
    ``cut`` keeps that share of the compressed image data (with valid CRCs and an IEND)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    compressed = zlib.compress(b"".join(rows))
    compressed = compressed[: int(len(compressed) * cut)]
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                                               0, 0, 0))
            + chunk(b"IDAT", compressed) + chunk(b"IEND", b""))


LARGE = Policy(photo=PhotoRule(formats=["PNG"], min_long_side=1, min_short_side=1))


@pytest.mark.parametrize("case", ["whole", "short-data", "bad-filter", "extra-rows"])
def test_png_image_data_is_inflated_and_counted(tmp_path: Path, case: str) -> None:
    width, height = 300, 200
    rng = random.Random(2)
    rows = [b"\x00" + bytes(rng.randrange(256) for _ in range(width)) for _ in range(height)]
    data = {
        "whole": _png(width, height, rows),
        "short-data": _png(width, height, rows, cut=0.7),  # CRCs and IEND all fine
        "bad-filter": _png(width, height, [*rows[:100], b"\x07" + rows[100][1:], *rows[101:]]),
        "extra-rows": _png(width, height, rows + rows[:5]),  # libpng and Pillow ignore these
    }[case]
    path = tmp_path / f"{case}.png"
    path.write_bytes(data)
    [verdict] = check_file(path, LARGE)
    expected_ok = case in ("whole", "extra-rows")
    assert (verdict.width, verdict.height, verdict.ok) == (width, height, expected_ok)
    assert pillow_loads(path) is expected_ok


@pytest.mark.slow
def test_mutated_pngs_that_pillow_cannot_decode_are_corrupt(
        tmp_path: Path, media: dict[str, Path], policy: Policy) -> None:
    """Pillow does not check CRCs, so some mutants it loads are still corrupt to us (a CRC
    mismatch is damage by the PNG specification); none it cannot load is ever ok."""
    data = media["ok-2560x1440.png"].read_bytes()
    first_data = data.index(b"IDAT") + 4
    refused = 0
    for index, mutant in enumerate(_mutants(data, seed=3, count=60, start=first_data)):
        path = tmp_path / f"m{index}.png"
        path.write_bytes(mutant)
        [verdict] = check_file(path, policy)
        if not pillow_loads(path):
            refused += 1
            assert codes(verdict) == [Code.CORRUPT], index
    assert refused >= 10


def test_psd_whose_image_data_is_cut_is_corrupt(tmp_path: Path, policy: Policy) -> None:
    whole = samples.make_psd(tmp_path / "whole.psd", 1920, 1080)
    data = whole.read_bytes()
    cut = tmp_path / "cut.psd"
    cut.write_bytes(data[: len(data) - 1000])  # inside the RLE rows, after the count table
    [good] = check_file(whole, policy)
    [bad] = check_file(cut, policy)
    assert good.ok and pillow_loads(whole)
    assert (bad.width, bad.height, codes(bad)) == (1920, 1080, [Code.CORRUPT])
    assert not pillow_loads(cut)


# --- containers the campaign refuses -----------------------------------------------------


VIDEO = ("-f", "lavfi", "-i", "testsrc=size=1920x1080:rate=5:duration=1")
SOUND = ("-f", "lavfi", "-i", "sine=duration=1")


@pytest.mark.parametrize(("name", "arguments", "fmt"), [
    ("audio-only.flv", (*SOUND, "-c:a", "libmp3lame", "-f", "flv"), "FLV"),
    ("video.flv", (*VIDEO, "-c:v", "flv1", "-f", "flv"), "FLV"),
    ("video.wmv", (*VIDEO, "-c:v", "wmv2", "-f", "asf"), "WMV"),
    ("phone.3gp", (*VIDEO, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                   "-f", "3gp"), "3GP"),
])
def test_refused_containers_are_told_to_send_an_mp4_whatever_their_tracks(
        tmp_path: Path, policy: Policy, name: str, arguments: tuple[str, ...],
        fmt: str) -> None:
    path = ffmpeg(tmp_path / name, *arguments)
    cut = tmp_path / f"cut-{name}"
    cut.write_bytes(path.read_bytes()[:600])  # not even a readable header left
    for candidate in (path, cut):
        [verdict] = check_file(candidate, policy)
        assert (verdict.format, codes(verdict)) == (fmt, [Code.FORMAT_NOT_ALLOWED]), candidate
        assert "请转换为MP4后重新报送" in verdict.reasons[0].message


@pytest.mark.parametrize("byte_order", ["Big-endian", "Little-endian"])
def test_orientation_written_by_exiftool_in_either_byte_order_turns_the_size(
        tmp_path: Path, policy: Policy, byte_order: str) -> None:
    path = samples.make_photo(tmp_path / "p.jpg", 2000, 1200)
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-ExifByteOrder={byte_order}",
                    "-Orientation#=6", "-Make=Test", str(path)], check=True, timeout=60)
    read = subprocess.run(["exiftool", "-s3", "-n", "-Orientation", "-ExifByteOrder",
                           str(path)], capture_output=True, text=True, check=True, timeout=60)
    assert read.stdout.split()[0] == "6"
    [verdict] = check_file(path, policy)
    assert (verdict.width, verdict.height) == (1200, 2000)
