"""Classes of files the fuzz campaign of issue 16 (bench/fuzz.py) found us passing while the
expert refused them. Each file is made by ffmpeg, then broken by byte surgery the way the
mutant was; each test first asks the expert the campaign asks (``ffmpeg -xerror`` on the first
keyframe, ``expert_refuses``), then asserts our verdict agrees.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from safetymonth import samples
from safetymonth.config import PhotoRule, Policy, VideoRule
from safetymonth.validator import check_file
from safetymonth.validator.verdict import Code, Verdict
from tests.support.media_corpus import pillow_loads

LENIENT = Policy(video=VideoRule(formats=["MP4", "AVI", "MPG2", "MTS"], min_long_side=16,
                                 min_short_side=16, decode="frame"),
                 photo=PhotoRule(formats=["JPEG", "PNG", "PSD"], min_long_side=16,
                                 min_short_side=16, decode="scaled"))
M2TS = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mpegts",
        "-mpegts_m2ts_mode", "1"]
PACKET = 192  # BDAV: a 4-byte time code before each 188-byte transport packet


def expert_refuses(path: Path) -> bool:
    """The campaign's expert: FFmpeg decoding the first keyframe with ``-xerror``."""
    result = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-threads", "1",
                             "-skip_frame:v", "nokey", "-i", str(path), "-map", "0:v:0",
                             "-frames:v", "1", "-f", "null", "-"],
                            capture_output=True, timeout=120)
    return result.returncode != 0


def transport_packets(data: bytes) -> list[int]:
    """Offsets of the transport packets (after each one's time code)."""
    return [at + 4 for at in range(0, len(data) - PACKET + 1, PACKET) if data[at + 4] == 0x47]


def pid(data: bytes, at: int) -> int:
    return (data[at + 1] & 0x1F) << 8 | data[at + 2]


def starts_video(data: bytes, at: int) -> bool:
    """A packet that starts a PES of video (stream id 0xE0), after any adaptation field."""
    payload = at + 4 + (1 + data[at + 4] if data[at + 3] & 0x20 else 0)
    return bool(data[at + 1] & 0x40) and data[payload:payload + 4] == b"\x00\x00\x01\xe0"


def lose_a_frames_first_packet(data: bytearray, nth: int = 2) -> None:
    """The transport packet that starts the ``nth`` video PES after the first moved to a PID
    no stream has, as one bit flipped in its header does (the fuzz mutant that found this
    class): the PES before it runs on into the rest of that frame, a continuity count is
    skipped, and the demuxer marks the keyframe's packet corrupt."""
    packets = transport_packets(data)
    first = next(at for at in packets if starts_video(data, at))
    starts = [at for at in packets if at >= first and starts_video(data, at)
              and pid(data, at) == pid(data, first)]
    data[starts[nth] + 1] |= 0x02  # PID 0x1011 becomes 0x1211


def verdict_of(path: Path) -> Verdict:
    [verdict] = check_file(path, LENIENT)
    return verdict


def codes(verdict: Verdict) -> list[Code]:
    return [reason.code for reason in verdict.reasons]


@pytest.fixture(scope="module")
def mts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One second of 640×360 H.264 in a BDAV stream, as AVCHD cameras write it."""
    path = tmp_path_factory.mktemp("fuzzed") / "whole.mts"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=640x360:rate=5:duration=1", *M2TS, str(path)],
                   check=True, timeout=120)
    return path


def test_mts_whose_first_keyframe_packet_is_marked_corrupt_is_corrupt(mts: Path,
                                                                       tmp_path: Path) -> None:
    """``ffmpeg -xerror`` stops on a packet its demuxer marks corrupt; the decoder alone
    still paints the keyframe from its first bytes, so the decode had passed it."""
    assert not expert_refuses(mts)
    assert verdict_of(mts).ok
    data = bytearray(mts.read_bytes())
    lose_a_frames_first_packet(data)
    broken = tmp_path / "lost-packet.mts"
    broken.write_bytes(bytes(data))
    assert expert_refuses(broken)
    verdict = verdict_of(broken)
    assert codes(verdict) == [Code.CORRUPT]


# --- PSD: section lengths that land in the RLE table, where "0002" reads as ZIP ----------------



def ffmpeg_decodes(path: Path) -> bool:
    result = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-i", str(path),
                             "-f", "null", "-"], capture_output=True, timeout=120)
    return result.returncode == 0


def test_psd_whose_image_data_starts_inside_its_rle_table_is_corrupt(tmp_path: Path) -> None:
    """The layers' length grown by 2 (a flipped bit, in the mutant that found this): the image
    data then starts at the RLE table's first count, 2, read as "ZIP", which passed with no
    check while Pillow and ffmpeg refuse the file."""
    whole = samples.make_psd(tmp_path / "whole.psd", 120, 80)  # each row packs to 2 bytes
    assert pillow_loads(whole) and ffmpeg_decodes(whole)
    assert verdict_of(whole).ok
    data = bytearray(whole.read_bytes())
    layers = 26 + 4 + 4  # after the header, the colour mode and the resources lengths
    assert data[layers:layers + 4] == bytes(4) and data[layers + 6:layers + 8] == b"\0\x02"
    data[layers:layers + 4] = struct.pack(">I", 2)
    broken = tmp_path / "shifted.psd"
    broken.write_bytes(bytes(data))
    assert not pillow_loads(broken) and not ffmpeg_decodes(broken)
    assert codes(verdict_of(broken)) == [Code.CORRUPT]


def zip_psd(path: Path, width: int, height: int, cut: int = 0) -> Path:
    """An RGB PSD whose image data is ZIP (method 2): one deflate stream of the planes,
    less its last ``cut`` bytes."""
    planes = bytes(range(256)) * (3 * width * height // 256 + 1)
    stream = zlib.compress(planes[:3 * width * height])
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    path.write_bytes(header + struct.pack(">IIIH", 0, 0, 0, 2) + stream[:len(stream) - cut])
    return path


def test_zip_image_data_must_inflate_to_the_image(tmp_path: Path) -> None:
    """Neither Pillow nor ffmpeg reads ZIP image data, so the expectation comes from how the
    file was made: a whole stream of the image's bytes passes, a cut one does not."""
    assert verdict_of(zip_psd(tmp_path / "zip.psd", 64, 48)).ok
    assert codes(verdict_of(zip_psd(tmp_path / "cut.psd", 64, 48, cut=40))) == [Code.CORRUPT]


def test_avi_chunk_id_of_control_bytes_never_reaches_the_message(tmp_path: Path) -> None:
    """A top-level chunk after ``hdrl`` whose id became ``03 00 00 00`` and whose length runs
    past the file: the sentence names it "?", not with control bytes a reply cannot carry."""
    whole = tmp_path / "whole.avi"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=5:duration=1", "-c:v", "mpeg4", "-f", "avi",
                    str(whole)], check=True, timeout=120)
    data = bytearray(whole.read_bytes())
    after_hdrl = 12 + 8 + struct.unpack("<I", data[16:20])[0]
    data[after_hdrl:after_hdrl + 8] = b"\x03\0\0\0" + struct.pack("<I", 0x7FFFFFFF)
    broken = tmp_path / "control.avi"
    broken.write_bytes(bytes(data))
    verdict = verdict_of(broken)
    assert codes(verdict) == [Code.CORRUPT]
    assert "?块" in verdict.reasons[0].message
    assert not any(ord(char) < 0x20 for char in verdict.reasons[0].message)


def test_mp4_whose_last_stsc_entry_repeats_the_one_before_is_corrupt(tmp_path: Path) -> None:
    """The sound track's ``stsc``: its last two entries both start at the last chunk. FFmpeg
    moves the last one a chunk further, past the ``stco``, and refuses the file ("STSC entry
    3 is invalid", "contradictionary STSC and STCO"); the last entry alone looked right."""
    whole = tmp_path / "whole.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=5:duration=1", "-f", "lavfi", "-i", "sine=d=1",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(whole)], check=True, timeout=120)
    assert not expert_refuses(whole)
    assert verdict_of(whole).ok
    data = bytearray(whole.read_bytes())
    at = max(data.find(b"stsc"), data.rfind(b"stsc"),
             key=lambda box: struct.unpack(">I", data[box + 8:box + 12])[0])
    entries = struct.unpack(">I", data[at + 8:at + 12])[0]
    chunks = struct.unpack(">I", data[data.rfind(b"stco") + 8:data.rfind(b"stco") + 12])[0]
    assert entries >= 2 and data.find(b"stsc") != data.rfind(b"stsc")
    for index in (entries - 2, entries - 1):
        data[at + 12 + index * 12:at + 16 + index * 12] = struct.pack(">I", chunks)
    broken = tmp_path / "stsc.mp4"
    broken.write_bytes(bytes(data))
    assert expert_refuses(broken)
    assert codes(verdict_of(broken)) == [Code.CORRUPT]


@pytest.fixture(scope="module")
def with_sound(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One second of 320×240 H.264 and AAC sound in an MP4, as ffmpeg writes it."""
    path = tmp_path_factory.mktemp("fuzzed-mp4") / "whole.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=5:duration=1", "-f", "lavfi", "-i", "sine=d=1",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(path)], check=True, timeout=120)
    return path


def _box(data: bytearray, kind: bytes, nth: int = 0) -> int:
    """Offset of the ``nth`` box of type ``kind`` inside the ``moov`` (the ``ftyp`` names
    brands such as ``avc1`` too)."""
    position = data.find(b"moov")
    for _ in range(nth + 1):
        position = data.find(kind, position + 1)
        assert position > 0, kind
    return position - 4


def _grow(kind: bytes, by: int, nth: int = 0) -> Callable[[bytearray], None]:
    def surgery(data: bytearray) -> None:
        at = _box(data, kind, nth)
        data[at:at + 4] = struct.pack(">I", struct.unpack(">I", data[at:at + 4])[0] + by)
    return surgery


def _set(kind: bytes, offset: int, value: int, nth: int = 0) -> Callable[[bytearray], None]:
    """The 32-bit field at ``offset`` in the box (0: its size; 12: a full box's count)."""
    def surgery(data: bytearray) -> None:
        at = _box(data, kind, nth)
        data[at + offset:at + offset + 4] = struct.pack(">I", value)
    return surgery


MOOV_SURGERY = {
    # An stsd sample entry that runs past its box: FFmpeg reads the next boxes as its body.
    "sound-entry-past-stsd": _grow(b"mp4a", 40),
    # The minf overread: a dref (in minf's dinf) that counts more entries than it holds.
    "dref-counts-3-of-1": _set(b"dref", 12, 3),
    "sound-dref-counts-3-of-1": _set(b"dref", 12, 3, nth=1),
    # "error reading header": entries that do not add up to a box.
    "dref-without-entries": _set(b"dref", 12, 0),
    "dref-entry-of-11-bytes": _set(b"url ", 0, 11),
    "sound-entry-of-7-bytes": _set(b"mp4a", 0, 7),
}


@pytest.mark.parametrize("case", sorted(MOOV_SURGERY))
def test_mp4_whose_moov_entries_ffmpeg_cannot_walk_is_corrupt(
        with_sound: Path, tmp_path: Path, case: str) -> None:
    """Three classes the campaign found us passing while FFmpeg's demuxer refused the file
    and our readers took the first sample, which decodes alone."""
    assert not expert_refuses(with_sound)
    assert verdict_of(with_sound).ok
    data = bytearray(with_sound.read_bytes())
    MOOV_SURGERY[case](data)
    broken = tmp_path / f"{case}.mp4"
    broken.write_bytes(bytes(data))
    assert expert_refuses(broken)

    verdict = verdict_of(broken)

    assert codes(verdict) == [Code.CORRUPT], verdict.reasons
