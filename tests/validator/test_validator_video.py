"""Videos: the size a picture decodes to, and files no player opens (issue 16, video part).

Every file is made by ffmpeg, then changed by byte surgery where the case needs a lie or a
break. Each test first asks the experts (``ffprobe`` for the size, ``ffmpeg -v error -i F -f
null -`` for whether it plays), then asserts that our verdict agrees with them. The unplayable
cases use 1280×720 sources and a policy whose minimum they meet, so only ``corrupt`` can fail
them.
"""

from __future__ import annotations

import struct
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from safetymonth.config import Policy, VideoRule
from safetymonth.validator import check_file
from safetymonth.validator.verdict import Code, Verdict
from tests.support.media_corpus import ffmpeg

TESTSRC = ["-f", "lavfi", "-i", "testsrc=size={size}:rate=5:duration=1"]
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
RECIPES = {
    "h264.mp4": H264,
    "hevc.mp4": ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
                 "-pix_fmt", "yuv420p", "-tag:v", "hvc1"],
    "mpeg4.avi": ["-c:v", "mpeg4", "-q:v", "10", "-f", "avi"],
    "mjpeg.avi": ["-c:v", "mjpeg", "-q:v", "10", "-f", "avi"],
    "h264.avi": [*H264, "-f", "avi"],
    "mpeg2.mpg": ["-r", "25", "-c:v", "mpeg2video", "-q:v", "10", "-f", "vob"],
    "fragmented.mp4": [*H264, "-g", "2", "-movflags", "+frag_keyframe+empty_moov"],
    "sound.mp4": [*H264, "-c:a", "aac", "-shortest"],
}
LENIENT = {mode: Policy(video=VideoRule(formats=["MP4", "AVI", "MPG2", "MTS"], min_long_side=16,
                                        min_short_side=16, decode=mode))
           for mode in ("frame", "off")}
HOUSE = {mode: Policy(video=VideoRule(formats=["MP4", "AVI", "MPG2", "MTS"],
                                      min_long_side=1280, min_short_side=720, decode=mode))
         for mode in ("frame", "off")}


def make(folder: Path, recipe: str, size: str) -> Path:
    """A one-second test pattern of ``size`` with the recipe's codec and container."""
    path = folder / f"{size}-{recipe}"
    if not path.exists():
        sound = ["-f", "lavfi", "-i", "sine=d=1"] if recipe == "sound.mp4" else []
        ffmpeg(path, *[arg.format(size=size) for arg in TESTSRC], *sound, *RECIPES[recipe])
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video")


def changed(source: Path, target: Path, surgery: Callable[[bytearray], None]) -> Path:
    data = bytearray(source.read_bytes())
    surgery(data)
    target.write_bytes(bytes(data))
    return target


# --- what the experts say -------------------------------------------------------------------


def ffprobe_size(path: Path) -> tuple[int, int] | None:
    """The first video stream's width and height as ffprobe reports them."""
    result = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                             "-show_entries", "stream=width,height", "-of", "csv=p=0",
                             str(path)], capture_output=True, text=True, timeout=60)
    fields = result.stdout.strip().split(",")[:2]  # a side-data column may follow
    return (int(fields[0]), int(fields[1])) if len(fields) == 2 and all(fields) else None


def ffmpeg_complaints(path: Path) -> str:
    """What ``ffmpeg -v error`` says decoding the whole file: empty for a file that plays."""
    result = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                            capture_output=True, text=True, timeout=120)
    return result.stderr.strip() + ("" if result.returncode == 0 else " (exit status)")


def verdict_of(path: Path, policy: Policy) -> Verdict:
    [verdict] = check_file(path, policy)
    return verdict


def codes(verdict: Verdict) -> list[Code]:
    return [reason.code for reason in verdict.reasons]


# --- byte surgery ---------------------------------------------------------------------------


def box(data: bytearray, kind: bytes, nth: int = 0, after: bytes | None = None) -> int:
    """Offset of the ``nth`` box of type ``kind`` (after the first ``after`` box, if given)."""
    position = data.find(after) if after else 0
    for _ in range(nth + 1):
        position = data.find(kind, position + 1)
        assert position > 0, kind
    return position - 4


def set_tkhd_size(data: bytearray, width: int, height: int) -> None:
    at = box(data, b"tkhd")
    body = at + 8  # version, flags, dates, ids, duration; then layer, volume and the matrix
    matrix = body + 4 + (20 if data[body] == 0 else 32) + 16
    data[matrix + 36:matrix + 44] = struct.pack(">II", width << 16, height << 16)


def set_entry_size(data: bytearray, entry: bytes, width: int, height: int) -> None:
    at = box(data, entry, after=b"stsd")
    data[at + 32:at + 36] = struct.pack(">HH", width, height)


def tkhd_720p_without_pasp(data: bytearray) -> None:
    """The track header says 1280×720, and the sample entry's ``pasp`` (which ffmpeg writes,
    1:1) is renamed ``free``: a reader that trusts ``tkhd`` sees 720p."""
    set_tkhd_size(data, 1280, 720)
    at = box(data, b"pasp", after=b"stsd")
    data[at + 4:at + 8] = b"free"


def set_strf_size(data: bytearray, width: int, height: int) -> None:
    at = data.find(b"strf") + 8
    data[at + 4:at + 12] = struct.pack("<ii", width, height)


def set_count(kind: bytes, count: int, nth: int = 0) -> Callable[[bytearray], None]:
    """A table's entry count (after version and flags) set to ``count``."""
    def surgery(data: bytearray) -> None:
        at = box(data, kind, nth)
        data[at + 12:at + 16] = struct.pack(">I", count)
    return surgery


# --- 1. the size a picture decodes to ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["frame", "off"])
@pytest.mark.parametrize(("recipe", "entry"), [("h264.mp4", b"avc1"), ("hevc.mp4", b"hvc1")])
def test_mp4_whose_headers_claim_hd_over_a_tiny_stream_is_judged_at_the_true_size(
        folder: Path, tmp_path: Path, recipe: str, entry: bytes, mode: str) -> None:
    """A 96×64 stream whose ``tkhd`` and sample entry say 1920×1080."""
    def lie(data: bytearray) -> None:
        set_tkhd_size(data, 1920, 1080)
        set_entry_size(data, entry, 1920, 1080)

    path = changed(make(folder, recipe, "96x64"), tmp_path / f"claims-1080p-{recipe}", lie)
    true_size = ffprobe_size(path)
    assert true_size == (96, 64)

    verdict = verdict_of(path, HOUSE[mode])

    assert (verdict.width, verdict.height) == true_size
    assert codes(verdict) == [Code.RESOLUTION_TOO_LOW]


def ffprobe_displayed(path: Path) -> tuple[int, int]:
    """ffprobe's width widened by its sample aspect ratio, and its height."""
    result = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                             "-show_entries", "stream=width,height,sample_aspect_ratio",
                             "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                            timeout=60)
    width, height, sar = result.stdout.strip().split(",")[:3]
    num, den = (int(part) for part in sar.split(":"))
    return round(int(width) * num / den), int(height)


@pytest.mark.parametrize(("recipe", "entry", "extra"), [
    ("h264.mp4", b"avc1", ["-vf", "setsar=4/3"]),  # the VUI's pixel aspect
    ("h264.mp4", b"avc1", ["-pix_fmt", "yuv422p10le"]),  # High 4:2:2, its own SPS layout
    ("hevc.mp4", b"hvc1", ["-vf", "setsar=4/3"]),  # the aspect after the reference sets
])
def test_codec_headers_give_cropping_and_pixel_aspect_as_ffprobe_does(
        folder: Path, tmp_path: Path, recipe: str, entry: bytes, extra: list[str]) -> None:
    """1278×718 is coded as 1280×720 and cropped in the SPS; the container is made to claim
    1920×1080 (``pasp`` removed), so only the codec header can give the true size."""
    source = ffmpeg(tmp_path / f"source-{recipe}", *[arg.format(size="1278x718")
                                                      for arg in TESTSRC],
                    *RECIPES[recipe], *extra)

    def lie(data: bytearray) -> None:
        set_tkhd_size(data, 1920, 1080)
        set_entry_size(data, entry, 1920, 1080)
        pasp = data.find(b"pasp", data.find(b"stsd"))
        if pasp > 0:
            data[pasp:pasp + 4] = b"free"

    path = changed(source, tmp_path / f"lying-{recipe}", lie)
    expected = ffprobe_displayed(path)

    verdict = verdict_of(path, LENIENT["off"])

    assert verdict.ok, verdict.reasons
    assert (verdict.width, verdict.height) == expected


@pytest.mark.parametrize("mode", ["frame", "off"])
def test_mp4_whose_track_header_alone_claims_720p_is_judged_at_the_true_size(
        folder: Path, tmp_path: Path, mode: str) -> None:
    """320×180 with a ``tkhd`` of 1280×720 and no ``pasp``: ``main`` took the track header."""
    path = changed(make(folder, "h264.mp4", "320x180"), tmp_path / "tkhd-720p.mp4",
                   tkhd_720p_without_pasp)
    true_size = ffprobe_size(path)
    assert true_size == (320, 180)

    verdict = verdict_of(path, HOUSE[mode])

    assert (verdict.width, verdict.height) == true_size
    assert codes(verdict) == [Code.RESOLUTION_TOO_LOW]


@pytest.mark.parametrize("mode", ["frame", "off"])
@pytest.mark.parametrize("recipe", ["mpeg4.avi", "h264.avi"])
def test_avi_whose_strf_claims_720p_over_a_small_stream_is_judged_at_the_true_size(
        folder: Path, tmp_path: Path, recipe: str, mode: str) -> None:
    """``strf`` says 1280×720 over a 320×180 stream (MediaInfo believes ``strf``). Not MJPEG:
    for it ffmpeg takes a ``strf`` twice the frame's height as a sign of interlaced fields."""
    path = changed(make(folder, recipe, "320x180"), tmp_path / f"strf-720p-{recipe}",
                   lambda data: set_strf_size(data, 1280, 720))
    true_size = ffprobe_size(path)
    assert true_size == (320, 180)

    verdict = verdict_of(path, HOUSE[mode])

    assert (verdict.width, verdict.height) == true_size
    assert codes(verdict) == [Code.RESOLUTION_TOO_LOW]


def test_mpeg_ps_whose_sequence_header_claims_4095_square_is_corrupt(
        folder: Path, tmp_path: Path) -> None:
    """Every sequence header says 4095×4095 over 320×180 slices: no frame decodes."""
    def lie(data: bytearray) -> None:
        at = data.find(b"\x00\x00\x01\xb3")
        while at >= 0:
            data[at + 4:at + 7] = b"\xff\xff\xff"
            at = data.find(b"\x00\x00\x01\xb3", at + 4)

    path = changed(make(folder, "mpeg2.mpg", "320x180"), tmp_path / "4095.mpg", lie)
    assert ffprobe_size(path) == (4095, 4095)
    assert ffmpeg_complaints(path)

    verdict = verdict_of(path, LENIENT["frame"])

    assert codes(verdict) == [Code.CORRUPT]


def test_a_zipped_video_is_decoded_from_its_member(folder: Path, tmp_path: Path) -> None:
    """The worker decodes a zip member as a stream: the lie is found there too."""
    lying = changed(make(folder, "h264.mp4", "320x180"), tmp_path / "inner.mp4",
                    tkhd_720p_without_pasp)
    true_size = ffprobe_size(lying)
    bundle = tmp_path / "videos.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.write(lying, "演练.mp4")

    [verdict] = check_file(bundle, HOUSE["frame"])

    assert (verdict.width, verdict.height) == true_size
    assert codes(verdict) == [Code.RESOLUTION_TOO_LOW]


# --- 2. never ok for what no player opens -----------------------------------------------------


def _stsc_past_stco(data: bytearray) -> None:
    at = box(data, b"stsc")
    count = struct.unpack(">I", data[at + 12:at + 16])[0]
    last = at + 16 + (count - 1) * 12
    data[last:last + 4] = struct.pack(">I", 1000)  # the first chunk of its last run


def _offset_past_end(data: bytearray) -> None:
    at = box(data, b"stco")
    count = struct.unpack(">I", data[at + 12:at + 16])[0]
    last = at + 16 + (count - 1) * 4
    data[last:last + 4] = struct.pack(">I", len(data) + 100_000)


def _timescale_zero(data: bytearray) -> None:
    at = box(data, b"mdhd")
    assert data[at + 8] == 0  # version 0: version, flags, two dates, then the time scale
    data[at + 20:at + 24] = bytes(4)


def _sps_byte(data: bytearray) -> None:
    at = box(data, b"avcC")
    data[at + 16 + 4] ^= 0xFF  # the SPS's fifth byte: its id and frame number size


def _rename(kind: bytes, new: bytes, nth: int = 0) -> Callable[[bytearray], None]:
    def surgery(data: bytearray) -> None:
        at = box(data, kind, nth)
        data[at + 4:at + 8] = new
    return surgery


def _sound_without_description(data: bytearray) -> None:
    at = box(data, b"stsd", 1)  # the second track's: the sound
    data[at + 12:at + 16] = bytes(4)


UNPLAYABLE_MP4 = {
    "stsc-contradicts-stco": ("h264.mp4", _stsc_past_stco),
    "chunk-offset-past-end": ("h264.mp4", _offset_past_end),
    "stsc-count-2^28": ("h264.mp4", set_count(b"stsc", 1 << 28)),
    "stts-count-2^28": ("h264.mp4", set_count(b"stts", 1 << 28)),
    "mdhd-timescale-0": ("h264.mp4", _timescale_zero),
    "sps-byte-changed": ("h264.mp4", _sps_byte),
    "tfhd-renamed": ("fragmented.mp4", _rename(b"tfhd", b"tfhX")),
    "second-tfhd-renamed": ("fragmented.mp4", _rename(b"tfhd", b"tfhX", 1)),
    "trun-count-2^28": ("fragmented.mp4", set_count(b"trun", 1 << 28)),
    "sound-track-without-stsd-entries": ("sound.mp4", _sound_without_description),
    "sound-track-stsd-renamed": ("sound.mp4", _rename(b"stsd", b"stsX", 1)),
}


@pytest.mark.parametrize("mode", ["frame", "off"])
@pytest.mark.parametrize("case", sorted(UNPLAYABLE_MP4))
def test_mp4_that_ffmpeg_refuses_is_corrupt(folder: Path, tmp_path: Path, case: str,
                                            mode: str) -> None:
    recipe, surgery = UNPLAYABLE_MP4[case]
    original = make(folder, recipe, "1280x720")
    assert ffmpeg_complaints(original) == ""
    assert verdict_of(original, LENIENT[mode]).ok  # the control: it is the surgery we see
    path = changed(original, tmp_path / f"{case}.mp4", surgery)
    assert ffmpeg_complaints(path), "ffmpeg plays it: not a case of this test"

    verdict = verdict_of(path, LENIENT[mode])

    assert codes(verdict) == [Code.CORRUPT], verdict.reasons


@pytest.mark.parametrize("mode", ["frame", "off"])
def test_avi_of_a_codec_no_decoder_knows_is_corrupt(folder: Path, tmp_path: Path,
                                                    mode: str) -> None:
    def unknown_codec(data: bytearray) -> None:
        header = data.find(b"strh") + 8
        data[header + 4:header + 8] = b"QQQQ"  # fccHandler
        bitmap = data.find(b"strf") + 8
        data[bitmap + 16:bitmap + 20] = b"QQQQ"  # biCompression, what ffmpeg goes by

    path = changed(make(folder, "mpeg4.avi", "1280x720"), tmp_path / "qqqq.avi", unknown_codec)
    assert "Decoder (codec none) not found" in ffmpeg_complaints(path)

    verdict = verdict_of(path, LENIENT[mode])

    assert codes(verdict) == [Code.CORRUPT]


@pytest.mark.parametrize("mode", ["frame", "off"])
def test_mp4_of_a_codec_no_decoder_knows_is_corrupt(folder: Path, tmp_path: Path,
                                                    mode: str) -> None:
    def unknown_codec(data: bytearray) -> None:
        at = box(data, b"avc1", after=b"stsd")
        data[at + 4:at + 8] = b"QQQQ"

    path = changed(make(folder, "h264.mp4", "1280x720"), tmp_path / "qqqq.mp4", unknown_codec)
    assert "Decoder (codec none) not found" in ffmpeg_complaints(path)

    verdict = verdict_of(path, LENIENT[mode])

    assert codes(verdict) == [Code.CORRUPT]


def test_frame_decode_off_still_reads_the_codec_headers(folder: Path, tmp_path: Path) -> None:
    """``decode: off`` saves the sandbox round trip; the SPS is still the size's source."""
    path = changed(make(folder, "h264.mp4", "320x180"), tmp_path / "off.mp4",
                   tkhd_720p_without_pasp)

    verdict = verdict_of(path, LENIENT["off"])

    assert verdict.ok and (verdict.width, verdict.height) == ffprobe_size(path)
