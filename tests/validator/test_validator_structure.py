"""Structure checked before ``ok``: byte surgery on real ffmpeg- and Pillow-made files, each
verdict cross-checked against ffprobe, ffmpeg decoding or a full Pillow load of the same file.

Each surgery is named for what it does; the expected verdict follows from the surgery, and the
independent tool shows the file is broken too (it fails, loses a stream, or reads a size the
header contradicts).
"""

from __future__ import annotations

import json
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from safetymonth.config import Policy
from safetymonth.validator import Code, check_file
from tests.support.media_corpus import ffmpeg, ffmpeg_decodes, pillow_loads


def ffprobe(path: Path) -> tuple[int, list[dict[str, object]], str]:
    """(exit code, streams, stderr) of ``ffprobe -show_streams``."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60)
    streams = json.loads(result.stdout or "{}").get("streams", [])
    return result.returncode, streams, result.stderr


def codes(path: Path, policy: Policy) -> list[Code]:
    [verdict] = check_file(path, policy)
    return [reason.code for reason in verdict.reasons]


@pytest.fixture(scope="module")
def with_sound(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 1920×1080 MP4 with a video and an audio track, video first."""
    path = tmp_path_factory.mktemp("mp4") / "av.mp4"
    return ffmpeg(path, "-f", "lavfi", "-i", "testsrc=size=1920x1080:rate=5:duration=1",
                  "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "libx264", "-preset",
                  "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest").read_bytes()


def _box(data: bytes, kind: bytes) -> int:
    """The offset of the first box of ``kind`` (its size field)."""
    return data.index(kind) - 4


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def test_the_unaltered_files_pass_and_every_tool_reads_them(
        tmp_path: Path, with_sound: bytes, media: dict[str, Path], policy: Policy) -> None:
    original = _write(tmp_path, "av.mp4", with_sound)
    for path in (original, media["ok-1920x1080.avi"], media["anamorphic-1440x1080.mp4"]):
        assert codes(path, policy) == [], path.name
        assert ffprobe(path)[0] == 0 and ffmpeg_decodes(path), path.name


@pytest.mark.parametrize("trak_size", [7, 0x7FFFFFFF])
def test_a_trak_box_that_does_not_fit_is_corrupt(tmp_path: Path, with_sound: bytes,
                                                 policy: Policy, trak_size: int) -> None:
    at = _box(with_sound, b"trak")
    path = _write(tmp_path, f"trak-{trak_size}.mp4",
                  with_sound[:at] + struct.pack(">I", trak_size) + with_sound[at + 4:])
    assert codes(path, policy) == [Code.CORRUPT]
    _, streams, errors = ffprobe(path)
    # ffmpeg either finds no stream at all, or swallows the audio track into the video one
    # and says the file is broken.
    assert len(streams) < 2
    assert not streams or "Broken file" in errors
    if trak_size == 7:
        assert not ffmpeg_decodes(path)


def ffprobe_brand(path: Path) -> str | None:
    """The major brand ffprobe read from the ``ftyp`` box, or None when it found none."""
    result = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-of", "json",
                             str(path)], capture_output=True, text=True, timeout=60)
    return json.loads(result.stdout)["format"].get("tags", {}).get("major_brand")


def test_an_ftyp_mangled_into_a_second_moov_is_no_known_format(
        tmp_path: Path, with_sound: bytes, policy: Policy) -> None:
    """The ``ftyp`` box typed ``moov``: ffmpeg takes it for the movie, finds no track in it
    and skips the real moov, so no stream is left. Not "a MOV to convert" but corrupt, and
    the box name in the message is printable."""
    assert with_sound[4:8] == b"ftyp"
    path = _write(tmp_path, "ftyp-moov.mp4", with_sound[:4] + b"moov" + with_sound[8:])
    [verdict] = check_file(path, policy)
    assert [reason.code for reason in verdict.reasons] == [Code.CORRUPT]
    assert verdict.format is None
    assert all(char.isprintable() for reason in verdict.reasons for char in reason.message)
    assert ffprobe(path)[1] == [] and ffprobe_brand(path) is None
    assert not ffmpeg_decodes(path)


def test_an_ftyp_mangled_into_free_reads_as_quicktime(
        tmp_path: Path, with_sound: bytes, policy: Policy) -> None:
    """Typed ``free``, the brand is skipped: ffprobe reads the video whole with no brand,
    which is how a QuickTime file without ``ftyp`` reads, so it is a MOV of that size."""
    path = _write(tmp_path, "ftyp-free.mp4", with_sound[:4] + b"free" + with_sound[8:])
    [verdict] = check_file(path, policy)
    [video] = [s for s in ffprobe(path)[1] if s["codec_type"] == "video"]
    assert ffprobe_brand(path) is None and ffprobe_brand(_write(tmp_path, "av.mp4",
                                                                with_sound)) == "isom"
    assert (verdict.format, verdict.width, verdict.height) == ("MOV", video["width"],
                                                               video["height"])
    assert [reason.code for reason in verdict.reasons] == [Code.FORMAT_NOT_ALLOWED]
    assert ffmpeg_decodes(path)


def test_an_unknown_mdhd_version_is_corrupt(tmp_path: Path, with_sound: bytes,
                                            policy: Policy) -> None:
    at = _box(with_sound, b"mdhd") + 8
    path = _write(tmp_path, "mdhd.mp4", with_sound[:at] + b"\x7f" + with_sound[at + 1:])
    assert codes(path, policy) == [Code.CORRUPT]
    assert ffprobe(path)[0] != 0


@pytest.mark.parametrize("table", [b"stsz", b"stco", b"stsd"])
def test_a_video_track_without_samples_or_description_is_corrupt(
        tmp_path: Path, with_sound: bytes, policy: Policy, table: bytes) -> None:
    # The entry count: after version/flags, and for stsz also after the constant size.
    at = _box(with_sound, table) + 8 + (8 if table == b"stsz" else 4)
    path = _write(tmp_path, f"{table.decode()}-0.mp4",
                  with_sound[:at] + struct.pack(">I", 0) + with_sound[at + 4:])
    assert codes(path, policy) == [Code.CORRUPT]
    status, _, errors = ffprobe(path)
    assert status != 0 or "missing mandatory atoms" in errors
    assert not ffmpeg_decodes(path)


def test_a_pixel_aspect_that_contradicts_the_track_header_is_corrupt(
        tmp_path: Path, media: dict[str, Path], policy: Policy) -> None:
    """The anamorphic file's pasp says 4:3. Made 251660166:1440, the stored 1440 wide frame
    would be shown 251660166 wide, while its tkhd says 1920: ffprobe reads the stored
    1440×1080 and gives up on the ratio (it clamps it to 32767:1)."""
    data = media["anamorphic-1440x1080.mp4"].read_bytes()
    at = _box(data, b"pasp") + 8
    assert struct.unpack(">II", data[at:at + 8]) == (4, 3)
    path = _write(tmp_path, "pasp.mp4",
                  data[:at] + struct.pack(">II", 251660166, 1440) + data[at + 8:])
    assert codes(path, policy) == [Code.CORRUPT]
    [video] = [s for s in ffprobe(path)[1] if s["codec_type"] == "video"]
    assert (video["width"], video["height"]) == (1440, 1080)
    assert video["sample_aspect_ratio"] == "32767:1"


def test_a_track_header_side_over_16384_is_corrupt(tmp_path: Path, with_sound: bytes,
                                                   policy: Policy) -> None:
    # tkhd version 0: 4 bytes version/flags, 20 of times and ids, 16 of layer/volume, 36 of
    # matrix, then width and height in 16.16 fixed point.
    at = _box(with_sound, b"tkhd") + 8 + 4 + 20 + 16 + 36
    assert struct.unpack(">I", with_sound[at:at + 4])[0] == 1920 << 16
    path = _write(tmp_path, "tkhd.mp4",
                  with_sound[:at] + struct.pack(">I", 20000 << 16) + with_sound[at + 4:])
    assert codes(path, policy) == [Code.CORRUPT]
    [video] = [s for s in ffprobe(path)[1] if s["codec_type"] == "video"]
    assert (video["width"], video["height"]) == (1920, 1080)  # the header contradicts it


def _avi_chunk(data: bytes, kind: bytes) -> int:
    return data.index(kind)


def test_avi_stream_format_with_an_implausible_size_is_corrupt(
        tmp_path: Path, media: dict[str, Path], policy: Policy) -> None:
    data = media["ok-1920x1080.avi"].read_bytes()
    at = _avi_chunk(data, b"strf") + 8 + 4  # biSize, then biWidth
    assert struct.unpack("<i", data[at:at + 4])[0] == 1920
    path = _write(tmp_path, "wide.avi", data[:at] + struct.pack("<i", 1_000_000) + data[at + 4:])
    assert codes(path, policy) == [Code.CORRUPT]
    assert "Picture size 1000000x1080 is invalid" in ffprobe(path)[2]


def test_avi_without_its_movie_list_is_corrupt(tmp_path: Path, media: dict[str, Path],
                                               policy: Policy) -> None:
    data = media["ok-1920x1080.avi"].read_bytes()
    at = _avi_chunk(data, b"movi")
    path = _write(tmp_path, "nomovi.avi", data[:at] + b"xxxx" + data[at + 4:])
    assert codes(path, policy) == [Code.CORRUPT]
    assert ffprobe(path)[0] != 0


@pytest.mark.parametrize(("chunk", "new_size"), [(b"strf", 0x10000), (b"strl", 0x7FFFFFFF),
                                                 (b"idx1", 7)])
def test_avi_chunks_that_do_not_fit_are_corrupt(tmp_path: Path, media: dict[str, Path],
                                                policy: Policy, chunk: bytes,
                                                new_size: int) -> None:
    """A chunk longer than the list that holds it, or an index that is not whole entries of
    16 bytes. ffmpeg's AVI reader is lenient and plays these; the RIFF rules they break are
    checked from how the file was changed."""
    data = media["ok-1920x1080.avi"].read_bytes()
    at = _avi_chunk(data, chunk)
    size_at = at - 4 if chunk == b"strl" else at + 4  # a list's type follows its size
    path = _write(tmp_path, f"{chunk.decode()}.avi",
                  data[:size_at] + struct.pack("<I", new_size) + data[size_at + 4:])
    hdrl_end = 12 + 8 + struct.unpack("<I", data[16:20])[0]
    if chunk != b"idx1":
        assert at + new_size > hdrl_end  # longer than its parent list
    else:
        assert new_size % 16
    assert codes(path, policy) == [Code.CORRUPT]


# --- PNG ----------------------------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_a_png_whose_ihdr_declares_3_3_gigabytes_is_corrupt(
        tmp_path: Path, media: dict[str, Path], policy: Policy) -> None:
    data = media["ok-2560x1440.png"].read_bytes()
    path = _write(tmp_path, "ihdr.png", data[:8] + struct.pack(">I", 3_300_000_000) + data[12:])
    assert codes(path, policy) == [Code.CORRUPT]
    assert not pillow_loads(path)


def test_a_png_with_a_bad_ihdr_crc_is_corrupt(tmp_path: Path, media: dict[str, Path],
                                              policy: Policy) -> None:
    data = bytearray(media["ok-2560x1440.png"].read_bytes())
    data[29] ^= 0xFF  # the IHDR CRC: 8 signature + 4 length + 4 type + 13 data
    path = _write(tmp_path, "crc.png", bytes(data))
    assert codes(path, policy) == [Code.CORRUPT]
    assert not pillow_loads(path)


@pytest.mark.parametrize("length", [2**31, 2**31 - 1])
def test_a_png_chunk_longer_than_allowed_or_than_the_file_is_corrupt(
        tmp_path: Path, media: dict[str, Path], policy: Policy, length: int) -> None:
    """A text chunk before the image data whose length is over 2^31-1 (forbidden), or at the
    limit but past the end of the file."""
    data = media["ok-2560x1440.png"].read_bytes()
    text = png_chunk(b"tEXt", b"Comment\x00hello")
    lying = struct.pack(">I", length) + text[4:]
    path = _write(tmp_path, f"len-{length}.png", data[:33] + lying + data[33:])
    assert codes(path, policy) == [Code.CORRUPT]
    assert not pillow_loads(path)
    fine = _write(tmp_path, "text.png", data[:33] + text + data[33:])
    assert codes(fine, policy) == [] and pillow_loads(fine)


def test_an_audio_only_mp4_is_corrupt_without_asking_mediainfo(tmp_path: Path,
                                                               policy: Policy) -> None:
    """A sound recording sent as the video: whole tracks, none of them video. It is judged
    from its boxes; hostile files of this shape made MediaInfo take gigabytes."""
    from safetymonth.validator import sandbox

    path = ffmpeg(tmp_path / "sound.mp4", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac")
    assert [s["codec_type"] for s in ffprobe(path)[1]] == ["audio"]
    sandbox.shutdown()
    [verdict] = check_file(path, policy)
    assert (verdict.kind, verdict.format, [r.code for r in verdict.reasons]) == (
        "video", "MP4", [Code.CORRUPT])
    assert "没有找到视频画面" in verdict.reasons[0].message
    assert sandbox.current_pool() is None  # no worker was needed


VIDEO_1080 = ("-f", "lavfi", "-i", "testsrc=size=1920x1080:rate=5:duration=1")
SINE = ("-f", "lavfi", "-i", "sine=duration=1")
X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")


@pytest.mark.parametrize(("name", "arguments"), [
    ("mjpeg.avi", (*VIDEO_1080, "-c:v", "mjpeg", "-q:v", "5")),
    ("sound.avi", (*VIDEO_1080, *SINE, "-c:v", "mpeg4", "-c:a", "pcm_s16le")),
    ("audio-first.mp4", (*SINE, *VIDEO_1080, "-map", "0:a", "-map", "1:v", *X264, "-c:a",
                         "aac")),
    ("fragmented.mp4", (*VIDEO_1080, *X264, "-movflags", "frag_keyframe+empty_moov")),
    ("faststart.mp4", (*VIDEO_1080, *SINE, *X264, "-c:a", "aac", "-movflags", "+faststart")),
    ("hevc.mp4", (*VIDEO_1080, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                  "log-level=error")),
])
def test_what_ffmpeg_writes_and_plays_passes_the_structure_checks(
        tmp_path: Path, policy: Policy, name: str, arguments: tuple[str, ...]) -> None:
    path = ffmpeg(tmp_path / name, *arguments)
    assert ffmpeg_decodes(path)
    [verdict] = check_file(path, policy)
    assert (verdict.ok, verdict.width, verdict.height) == (True, 1920, 1080), verdict.reasons


def test_files_of_millions_of_tiny_boxes_or_chunks_are_refused_not_walked(
        tmp_path: Path, with_sound: bytes, media: dict[str, Path], policy: Policy) -> None:
    """No writer makes these; a hostile sender can, and walking them one by one would keep the
    service busy for minutes on a large file. Each stays valid to the letter of its format,
    which is why a parser that walks them all (ffprobe, Pillow) still opens them."""
    many = 300_000
    free_boxes = struct.pack(">I4s", 8, b"free") * many
    ftyp_end = struct.unpack(">I", with_sound[:4])[0]
    mp4 = _write(tmp_path, "boxes.mp4", with_sound[:ftyp_end] + free_boxes
                 + with_sound[ftyp_end:])
    png_data = media["ok-2560x1440.png"].read_bytes()
    png = _write(tmp_path, "chunks.png",
                 png_data[:33] + png_chunk(b"tEXt", b"") * many + png_data[33:])
    jpeg_data = media["ok-1920x1080.jpg"].read_bytes()
    jpeg = _write(tmp_path, "segments.jpg",
                  jpeg_data[:2] + b"\xff\xfe\x00\x02" * many + jpeg_data[2:])
    for path in (mp4, png, jpeg):
        [verdict] = check_file(path, policy)
        assert [r.code for r in verdict.reasons] == [Code.CORRUPT], path.name
        assert "数量过多" in verdict.reasons[0].message
