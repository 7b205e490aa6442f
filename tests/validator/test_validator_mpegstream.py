"""MPEG program and transport streams read by one FFmpeg open, without MediaInfo (issue 16).

Every file is made by ffmpeg at test time, and cut or changed by byte surgery where the case
needs it. Each verdict is checked against the experts: ffprobe for the codec and the size,
``ffmpeg -v error -i F -f null -`` decoding the whole file for whether it plays.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from safetymonth.config import Policy, VideoRule
from safetymonth.validator import check_file, sandbox
from safetymonth.validator.verdict import Code, Verdict
from tests.support.media_corpus import ffmpeg, ffmpeg_decodes

H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
RECIPES = {  # MPEG-1/2 take only broadcast frame rates
    "mpeg2.mpg": ["-r", "25", "-c:v", "mpeg2video", "-q:v", "10", "-f", "vob"],
    "mpeg1.mpg": ["-r", "25", "-c:v", "mpeg1video", "-q:v", "10", "-f", "mpeg"],
    "h264.mts": [*H264, "-f", "mpegts", "-mpegts_m2ts_mode", "1"],
    "h264.ts": [*H264, "-f", "mpegts"],
}
UNIT = {"mpeg2.mpg": 2048, "mpeg1.mpg": 2048, "h264.mts": 192, "h264.ts": 188}  # pack/packet
ALL_FORMATS = ["MP4", "AVI", "MPG2", "MTS", "TS", "MPEG-1"]  # so that only corrupt can fail
LENIENT = {mode: Policy(video=VideoRule(formats=ALL_FORMATS, min_long_side=16,
                                        min_short_side=16, decode=mode))
           for mode in ("frame", "off")}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mpegstream")


def make(folder: Path, recipe: str, size: str = "320x180", seconds: int = 2,
         extra: tuple[str, ...] = ()) -> Path:
    """A test pattern of ``size`` with the recipe's codec and container."""
    path = folder / f"{size}-{seconds}-{'-'.join(extra)}{recipe}"
    if not path.exists():
        ffmpeg(path, "-f", "lavfi", "-i", f"testsrc=size={size}:rate=5:duration={seconds}",
               *extra, *RECIPES[recipe])
    return path


def ffprobe_video(path: Path) -> tuple[str, int, int, int, int] | None:
    """The first video stream's codec, stored size and display aspect, as ffprobe says."""
    result = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                             "-show_entries", "stream=codec_name,width,height,"
                             "display_aspect_ratio", "-of", "csv=p=0", str(path)],
                            capture_output=True, text=True, timeout=60)
    lines = result.stdout.split()  # a transport stream lists its streams again per program
    fields = lines[0].split(",") if lines else []
    if len(fields) < 4:
        return None
    num, den = (int(part) for part in fields[3].split(":"))
    return fields[0], int(fields[1]), int(fields[2]), num, den


def verdict_of(path: Path, policy: Policy) -> Verdict:
    [verdict] = check_file(path, policy)
    return verdict


def codes(verdict: Verdict) -> list[Code]:
    return [reason.code for reason in verdict.reasons]


def mediainfo_loaded() -> bool:
    """Whether any sandbox worker of this process has libmediainfo mapped."""
    pool = sandbox.current_pool()
    pids = pool.pids() if pool else []
    assert pids, "no worker ran"
    return any("libmediainfo" in Path(f"/proc/{pid}/maps").read_text() for pid in pids)


# --- what the file is, without MediaInfo ------------------------------------------------------

FORMATS = {"mpeg2.mpg": "MPG2", "mpeg1.mpg": "MPEG-1", "h264.mts": "MTS", "h264.ts": "TS"}
CODECS = {"mpeg2.mpg": "mpeg2video", "mpeg1.mpg": "mpeg1video", "h264.mts": "h264",
          "h264.ts": "h264"}


@pytest.mark.parametrize("mode", ["frame", "off"])
@pytest.mark.slow
def test_program_and_transport_streams_are_named_and_sized_as_ffprobe_says_without_mediainfo(
        folder: Path, mode: str) -> None:
    """MPEG-2 and MPEG-1 program streams (one of them 720×576 shown 16:9, as a DVD camera
    writes), MTS (BDAV, 192-byte packets) and a plain TS with H.264: the campaign's name for
    each (MPEG-1 video is not MPG2; a 188-byte TS is not MTS) and the displayed size."""
    files = {recipe: make(folder, recipe) for recipe in RECIPES}
    files["dvd.mpg"] = make(folder, "mpeg2.mpg", "720x576", 1, ("-aspect", "16:9"))
    sandbox.shutdown()  # fresh workers: what they load is this test's doing

    for name, path in files.items():
        recipe = "mpeg2.mpg" if name == "dvd.mpg" else name
        codec, _stored, height, num, den = ffprobe_video(path) or ("", 0, 0, 0, 0)
        assert codec == CODECS[recipe] and ffmpeg_decodes(path), name
        verdict = verdict_of(path, LENIENT[mode])
        assert verdict.ok, (name, verdict.reasons)
        assert verdict.format == FORMATS[recipe], name
        assert (verdict.width, verdict.height) == (round(height * num / den), height), name
    assert not mediainfo_loaded()


def test_a_transport_stream_without_video_is_corrupt(folder: Path, tmp_path: Path) -> None:
    """BDAV packets holding only sound: nothing to judge the size of."""
    path = ffmpeg(tmp_path / "sound.mts", "-f", "lavfi", "-i", "sine=duration=1", "-c:a",
                  "mp2", "-f", "mpegts", "-mpegts_m2ts_mode", "1")
    assert ffprobe_video(path) is None
    sandbox.shutdown()

    for mode in ("frame", "off"):
        verdict = verdict_of(path, LENIENT[mode])
        assert (verdict.format, codes(verdict)) == ("MTS", [Code.CORRUPT])
        assert "没有找到视频画面" in verdict.reasons[0].message
    assert not mediainfo_loaded()


@pytest.mark.parametrize("mode", ["frame", "off"])
def test_a_program_stream_whose_sequence_headers_claim_4095_square(
        folder: Path, tmp_path: Path, mode: str) -> None:
    """Every sequence header says 4095×4095 over 320×180 slices: ffprobe believes the header,
    ffmpeg decodes nothing. Corrupt, even with the decode off: FFmpeg's open complains
    already (MediaInfo called it a fine 4095×4095 MPG2)."""
    data = bytearray(make(folder, "mpeg2.mpg").read_bytes())
    at = data.find(b"\x00\x00\x01\xb3")
    while at >= 0:
        data[at + 4:at + 7] = b"\xff\xff\xff"
        at = data.find(b"\x00\x00\x01\xb3", at + 4)
    path = tmp_path / "4095.mpg"
    path.write_bytes(bytes(data))
    assert (ffprobe_video(path) or ())[1:3] == (4095, 4095)
    assert not ffmpeg_decodes(path)
    sandbox.shutdown()

    verdict = verdict_of(path, LENIENT[mode])

    assert (verdict.format, codes(verdict)) == ("MPG2", [Code.CORRUPT])
    assert not mediainfo_loaded()


# --- never ok for a cut file ------------------------------------------------------------------


def cuts(length: int, unit: int) -> list[int]:
    """Where transfers stop: on a pack or packet boundary (which leaves every packet whole
    and only the last picture short), and at odd bytes through the file."""
    odd = [int(length * share) for share in (0.93, 0.61, 0.37, 0.21, 0.12, 0.02)]
    return [(int(length * 0.7) // unit) * unit, *odd]


@pytest.mark.parametrize("mode", ["frame", "off"])
@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_a_stream_cut_where_ffmpeg_finds_it_broken_is_corrupt(
        folder: Path, tmp_path: Path, recipe: str, mode: str) -> None:
    """Each cut that ``ffmpeg -v error`` complains about (a cut between two whole pictures
    plays, and is not a case here) is corrupt; the cut on a boundary is one of them."""
    whole = make(folder, recipe, seconds=4)
    assert ffmpeg_decodes(whole)
    assert verdict_of(whole, LENIENT[mode]).ok  # the control: it is the cut we see
    data = whole.read_bytes()
    refused = []

    for length in cuts(len(data), UNIT[recipe]):
        path = tmp_path / f"cut-{length}-{recipe}"
        path.write_bytes(data[:length])
        if ffmpeg_decodes(path):
            continue
        refused.append(length)

        verdict = verdict_of(path, LENIENT[mode])

        assert codes(verdict) == [Code.CORRUPT], (length, verdict)
        assert verdict.format == FORMATS[recipe]
    assert len(refused) >= 5 and refused[0] % UNIT[recipe] == 0, refused
