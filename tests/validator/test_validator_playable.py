"""Never ``ok`` for what no viewer opens: byte surgery on Pillow-made PNGs and on the PSDs
samples.make_psd writes, each mutant cross-checked against a full Pillow load and ffmpeg
decoding; and lengths or offsets from a file that no ``seek`` could take (2^63, 2^64-1) end
as a verdict that keeps its kind and format, with no traceback logged."""

from __future__ import annotations

import io
import logging
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from safetymonth import samples
from safetymonth.config import Policy
from safetymonth.validator import check_file
from tests.support.media_corpus import pillow_loads

PSD_HEADER = 26
PSB_LAYERS = PSD_HEADER + 4 + 4  # after the colour mode and image resources lengths


def ffmpeg_error(path: Path) -> str:
    """ffmpeg's complaint decoding the file ("" when it decodes cleanly)."""
    result = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                            capture_output=True, text=True, timeout=120)
    return result.stderr.strip() or ("" if result.returncode == 0 else "failed")


def verdict_of(path: Path, policy: Policy, caplog: pytest.LogCaptureFixture) -> dict[str, object]:
    """The one verdict of ``path``, after checking that no probe raised (which the validator
    logs with its traceback before giving a kind-less verdict)."""
    with caplog.at_level(logging.ERROR, logger="safetymonth.validator"):
        [verdict] = check_file(path, policy)
    assert not caplog.records, caplog.text
    return verdict.to_dict()


def codes(verdict: dict[str, object]) -> list[str]:
    return [reason["code"] for reason in verdict["reasons"]]  # type: ignore[index, union-attr]


# --- PSD / PSB ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def psd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return samples.make_psd(tmp_path_factory.mktemp("psd") / "ok.psd", 1920, 1080)


def test_the_unaltered_psd_passes_and_both_tools_read_it(psd: Path, policy: Policy,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    assert pillow_loads(psd) and ffmpeg_error(psd) == ""
    assert verdict_of(psd, policy, caplog)["ok"] is True


def test_an_rgb_psd_of_two_channels_is_corrupt(tmp_path: Path, psd: Path, policy: Policy,
                                               caplog: pytest.LogCaptureFixture) -> None:
    data = bytearray(psd.read_bytes())
    struct.pack_into(">H", data, 12, 2)  # channels: RGB (mode 3, at 24) needs three
    assert struct.unpack_from(">H", data, 24) == (3,)
    two = tmp_path / "two.psd"
    two.write_bytes(data)
    assert not pillow_loads(two) and ffmpeg_error(two)
    verdict = verdict_of(two, policy, caplog)
    assert (verdict["kind"], verdict["format"], codes(verdict)) == ("photo", "PSD", ["corrupt"])


def test_a_psd_whose_rle_row_unpacks_short_is_corrupt(tmp_path: Path, psd: Path,
                                                      policy: Policy,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    # make_psd packs each 1920-byte row as 15 runs of 128 (header 0x81 = 257 - 128). The
    # last row's last header becomes 0x82: 127 bytes, the row 1919, the counts unchanged.
    data = bytearray(psd.read_bytes())
    table = PSD_HEADER + 12 + 2
    assert struct.unpack_from(">H", data, table + 2 * (3 * 1080 - 1)) == (30,)
    assert data[-2] == 0x81
    data[-2] = 0x82
    short = tmp_path / "short.psd"
    short.write_bytes(data)
    assert not pillow_loads(short)
    assert "rle" in ffmpeg_error(short).lower()
    verdict = verdict_of(short, policy, caplog)
    assert (verdict["kind"], verdict["format"], codes(verdict)) == ("photo", "PSD", ["corrupt"])


def test_a_psb_section_length_of_2_to_the_63_is_a_verdict(tmp_path: Path, policy: Policy,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    whole = samples.make_psd(tmp_path / "whole.psb", 1920, 1080, version=2)
    data = bytearray(whole.read_bytes())
    assert struct.unpack_from(">Q", data, PSB_LAYERS) == (0,)  # the layers' 8-byte length
    struct.pack_into(">Q", data, PSB_LAYERS, 2**63)
    huge = tmp_path / "huge.psb"
    huge.write_bytes(data)
    assert ffmpeg_error(huge)  # Pillow reads no PSB at all
    verdict = verdict_of(huge, policy, caplog)
    assert (verdict["kind"], verdict["format"], codes(verdict)) == ("photo", "PSD", ["corrupt"])


# --- PNG chunk order ------------------------------------------------------------------------


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def after_first_idat(png: bytes, between: bytes) -> bytes:
    """The PNG with ``between`` (whole chunks) after its first IDAT, before the next."""
    at = png.index(b"IDAT") - 4
    end = at + 12 + struct.unpack_from(">I", png, at)[0]
    assert png[end + 4:end + 8] == b"IDAT"
    return png[:end] + between + png[end:]


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A noisy 1920×1080 photo, which Pillow writes in many consecutive IDAT chunks."""
    path = tmp_path_factory.mktemp("png") / "ok.png"
    Image.effect_noise((1920, 1080), 40).convert("RGB").save(path, "PNG")
    return path.read_bytes()


def test_a_png_in_many_consecutive_idats_passes(tmp_path: Path, png: bytes, policy: Policy,
                                                caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "many-idat.png"
    path.write_bytes(png)
    assert png.count(b"IDAT") > 2
    assert pillow_loads(path) and ffmpeg_error(path) == ""
    assert verdict_of(path, policy, caplog)["ok"] is True


@pytest.mark.parametrize("between", ["IHDR", "tRNS"])
def test_a_chunk_between_the_idats_is_corrupt(tmp_path: Path, png: bytes, policy: Policy,
                                              caplog: pytest.LogCaptureFixture,
                                              between: str) -> None:
    body = png[16:29] if between == "IHDR" else struct.pack(">HHH", 0, 0, 0)
    path = tmp_path / f"{between}.png"
    path.write_bytes(after_first_idat(png, chunk(between.encode(), body)))
    assert not pillow_loads(path)
    assert f"{between.lower()} after idat" in ffmpeg_error(path).lower()
    verdict = verdict_of(path, policy, caplog)
    assert (verdict["kind"], verdict["format"], codes(verdict)) == ("photo", "PNG", ["corrupt"])


@pytest.mark.slow
def test_pngs_pillow_and_ffmpeg_write_in_order_pass(tmp_path: Path, policy: Policy,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """16-bit, interlaced (ffmpeg's Adam7) and animated (APNG: acTL and fcTL before the IDAT,
    fdAT after it) PNGs keep their order: none is refused."""
    deep = tmp_path / "deep.png"
    Image.effect_noise((1920, 1080), 40).convert("I;16").save(deep, "PNG")
    frames = [Image.new("RGB", (1920, 1080), colour) for colour in ("red", "blue")]
    animated = tmp_path / "animated.png"
    frames[0].save(animated, "PNG", save_all=True, append_images=frames[1:])
    interlaced = tmp_path / "interlaced.png"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=1920x1080",
                    "-frames:v", "1", "-flags", "+ildct", str(interlaced)], check=True,
                   timeout=120)
    assert interlaced.read_bytes()[28] == 1  # IHDR's interlace method: Adam7
    assert b"fdAT" in animated.read_bytes()
    for path in (deep, animated, interlaced):
        assert pillow_loads(path) and ffmpeg_error(path) == "", path
        assert verdict_of(path, policy, caplog)["ok"] is True, path


# --- ZIP64 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [2**64 - 1, 2**63])
def test_a_zip64_locator_offset_no_seek_takes_is_a_verdict(
        tmp_path: Path, policy: Policy, caplog: pytest.LogCaptureFixture, offset: int) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("现场.jpg", samples.make_photo(tmp_path / "p.jpg", 1920, 1080)
                        .read_bytes())
    data = buffer.getvalue()
    end = data.rfind(b"PK\x05\x06")
    record = bytearray(data[end:])
    struct.pack_into("<H", record, 10, 0xFFFF)  # "see the ZIP64 record"
    locator = b"PK\x06\x07" + struct.pack("<IQI", 0, offset, 1)
    path = tmp_path / "locator.zip"
    path.write_bytes(data[:end] + locator + bytes(record))
    with pytest.raises(zipfile.BadZipFile):  # Python's own reader refuses it too
        zipfile.ZipFile(path)
    verdict = verdict_of(path, policy, caplog)
    assert (verdict["kind"], verdict["format"]) == ("archive", "ZIP")
    assert codes(verdict) == ["corrupt"]


def test_a_zipped_psd_whose_rows_fail_their_crc_is_a_corrupt_psd(
        tmp_path: Path, psd: Path, policy: Policy, caplog: pytest.LogCaptureFixture) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:  # stored: the PSD's bytes as they are
        bundle.writestr("海报.psd", psd.read_bytes())
    data = bytearray(buffer.getvalue())
    last = data.rfind(b"PK\x01\x02") - 1  # the member's last byte, a value of its last row
    assert data[last] == 0x80
    data[last] = 0x7F
    path = tmp_path / "crc.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as bundle, pytest.raises(zipfile.BadZipFile, match="CRC"):
        bundle.read("海报.psd")
    verdict = verdict_of(path, policy, caplog)
    assert (verdict["kind"], verdict["format"], codes(verdict)) == ("photo", "PSD", ["corrupt"])
