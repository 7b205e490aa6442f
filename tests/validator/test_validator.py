"""The validator against real files: every allowed format, the boundaries, rotations,
rejected formats, broken and hostile files. Each case asserts codes and the displayed size."""

from __future__ import annotations

from pathlib import Path

import pytest

from safetymonth.config import ArchiveLimits, Policy
from safetymonth.validator import Code, Kind, check_file

OK: set[str] = set()
LOW = {"resolution_too_low"}
NOT_ALLOWED = {"format_not_allowed"}
CORRUPT = {"corrupt"}

# name: (kind, format, reason codes, displayed (width, height) or None)
SINGLE_FILE_CASES = {
    "ok-1920x1080.jpg": ("photo", "JPEG", OK, (1920, 1080)),
    "low-1919x1080.jpg": ("photo", "JPEG", LOW, (1919, 1080)),
    "low-1920x1079.jpg": ("photo", "JPEG", LOW, (1920, 1079)),
    "portrait-1080x1920.jpg": ("photo", "JPEG", OK, (1080, 1920)),
    "wechat-1280x960.jpg": ("photo", "JPEG", LOW, (1280, 960)),
    # EXIF orientation 6 and 8 turn the picture: width and height trade places.
    "exif6-stored-2000x1000.jpg": ("photo", "JPEG", LOW, (1000, 2000)),
    "exif8-stored-1080x1920.jpg": ("photo", "JPEG", OK, (1920, 1080)),
    "ok-2560x1440.png": ("photo", "PNG", OK, (2560, 1440)),
    "low-1919x1080.png": ("photo", "PNG", LOW, (1919, 1080)),
    "exif6-stored-2000x1000.png": ("photo", "PNG", LOW, (1000, 2000)),
    "ok-1920x1080.psd": ("photo", "PSD", OK, (1920, 1080)),
    "ok-16bit-1920x1080.psd": ("photo", "PSD", OK, (1920, 1080)),
    "ok-4000x3000.psb": ("photo", "PSD", OK, (4000, 3000)),
    "low-1900x1080.psd": ("photo", "PSD", LOW, (1900, 1080)),
    "phone.heic": ("photo", "HEIC", NOT_ALLOWED, (4032, 3024)),
    "forward.webp": ("photo", "WEBP", NOT_ALLOWED, (2000, 1500)),
    "ok-1920x1080.mp4": ("video", "MP4", OK, (1920, 1080)),
    "ok-1280x720.mp4": ("video", "MP4", OK, (1280, 720)),
    "low-1279x720.mp4": ("video", "MP4", LOW, (1279, 720)),
    "low-1280x718.mp4": ("video", "MP4", LOW, (1280, 718)),
    "rotated-90.mp4": ("video", "MP4", OK, (1080, 1920)),
    # 1440×1080 stored, 4:3 pixels: shown 1920×1080.
    "anamorphic-1440x1080.mp4": ("video", "MP4", OK, (1920, 1080)),
    "ok-1920x1080.avi": ("video", "AVI", OK, (1920, 1080)),
    "ok-1920x1080.mpg": ("video", "MPG2", OK, (1920, 1080)),
    "ok-1920x1080.mts": ("video", "MTS", OK, (1920, 1080)),
    "plain-1920x1080.ts": ("video", "TS", NOT_ALLOWED, (1920, 1080)),
    "iphone.mov": ("video", "MOV", NOT_ALLOWED, (1920, 1080)),
    "download.mkv": ("video", "MKV", NOT_ALLOWED, (1920, 1080)),
    "old-mpeg1.mpg": ("video", "MPEG-1", NOT_ALLOWED, (1920, 1080)),
    "summary.docx": ("document", "DOCX", OK, None),
    "summary.pdf": ("document", "PDF", OK, None),
    "summary.doc": ("document", "DOC", OK, None),
    "truncated.jpg": ("photo", "JPEG", CORRUPT, (1920, 1080)),
    "truncated.png": ("photo", "PNG", CORRUPT, (2560, 1440)),
    "truncated.mp4": ("video", "MP4", CORRUPT, None),
    "truncated-faststart.mp4": ("video", "MP4", CORRUPT, (1920, 1080)),
    "truncated.avi": ("video", "AVI", CORRUPT, (1920, 1080)),
    "truncated.pdf": ("document", "PDF", CORRUPT, None),
    "empty.jpg": ("other", None, {"empty"}, None),
    "not-a-photo.jpg": ("other", None, {"unsupported_type"}, None),
    "bomb-40000x40000.png": ("photo", "PNG", {"too_large"}, (40000, 40000)),
}


@pytest.mark.parametrize("name", sorted(SINGLE_FILE_CASES))
def test_single_file_verdict(name: str, media: dict[str, Path], policy: Policy) -> None:
    kind, fmt, codes, size = SINGLE_FILE_CASES[name]
    [verdict] = check_file(media[name], policy, name=name)
    assert verdict.path == name
    assert verdict.kind == kind
    assert verdict.format == fmt
    assert {reason.code for reason in verdict.reasons} == codes
    assert verdict.ok is (not codes)
    assert (verdict.width, verdict.height) == (size or (None, None))
    assert all(reason.message for reason in verdict.reasons)


def test_failure_messages_say_what_to_do(media: dict[str, Path], policy: Policy) -> None:
    [photo] = check_file(media["wechat-1280x960.jpg"], policy)
    assert photo.reasons[0].message == (
        "照片分辨率为1280×960，低于要求的1920×1080，请发送原图（微信请勾选“原图”）")
    [mov] = check_file(media["iphone.mov"], policy)
    assert mov.reasons[0].message == (
        "MOV格式不在允许范围内（MP4、MPG2、AVI、MTS），请转换为MP4后重新报送")


def test_wps_is_a_word_binary_named_wps(media: dict[str, Path], policy: Policy) -> None:
    [verdict] = check_file(media["summary.doc"], policy, name="总结.wps")
    assert (verdict.kind, verdict.format, verdict.ok) == (Kind.DOCUMENT, "WPS", True)


def test_renamed_file_is_judged_by_content_with_a_warning(media: dict[str, Path],
                                                          policy: Policy) -> None:
    [verdict] = check_file(media["renamed-jpeg.png"], policy, name="renamed-jpeg.png")
    assert (verdict.format, verdict.ok) == ("JPEG", True)
    assert [w.code for w in verdict.warnings] == [Code.EXTENSION_MISMATCH]


def test_correct_extension_gives_no_warning(media: dict[str, Path], policy: Policy) -> None:
    for name in ("ok-1920x1080.jpg", "ok-1920x1080.mts", "ok-1920x1080.mpg", "summary.docx"):
        [verdict] = check_file(media[name], policy, name=name)
        assert verdict.warnings == [], name


def test_gbk_member_names_are_recovered(media: dict[str, Path], policy: Policy) -> None:
    verdicts = check_file(media["gbk-names.zip"], policy, name="照片.zip")
    assert [v.path for v in verdicts] == ["照片.zip!培训现场.jpg", "照片.zip!演练视频说明.pdf"]
    assert [(v.kind, v.width, v.height, v.ok) for v in verdicts] == [
        (Kind.PHOTO, 1920, 1080, True), (Kind.DOCUMENT, None, None, True)]


def test_traversal_members_are_refused_and_the_rest_checked(media: dict[str, Path],
                                                            policy: Policy) -> None:
    verdicts = {v.path: v for v in check_file(media["traversal.zip"], policy, name="t.zip")}
    for hostile in ("../../evil.jpg", "/etc/cron.jpg", "C:\\Windows\\x.jpg"):
        verdict = verdicts[f"t.zip!{hostile}"]
        assert [r.code for r in verdict.reasons] == [Code.UNSAFE_ARCHIVE]
        assert verdict.kind == Kind.ARCHIVE
    good = verdicts["t.zip!good.jpg"]
    assert (good.ok, good.width, good.height) == (True, 1920, 1080)


def test_zip_bomb_member_is_never_inflated(media: dict[str, Path], policy: Policy) -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    [verdict] = check_file(media["bomb.zip"], policy, name="bomb.zip")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert verdict.path == "bomb.zip!photos/清单.jpg"
    assert [r.code for r in verdict.reasons] == [Code.UNSAFE_ARCHIVE]
    assert grown_kib < 100 * 1024  # 200 MB declared; nothing near that was allocated


def test_archive_limits_come_from_policy(media: dict[str, Path]) -> None:
    few = Policy(archive=ArchiveLimits(max_members=1))
    [whole] = check_file(media["gbk-names.zip"], few, name="a.zip")
    assert (whole.path, whole.kind, [r.code for r in whole.reasons]) == (
        "a.zip", Kind.ARCHIVE, [Code.UNSAFE_ARCHIVE])
    small = Policy(archive=ArchiveLimits(max_total_size=1000))
    [whole] = check_file(media["gbk-names.zip"], small, name="a.zip")
    assert [r.code for r in whole.reasons] == [Code.UNSAFE_ARCHIVE]


def test_exclusive_minimum_rejects_exactly_720p(media: dict[str, Path]) -> None:
    strict = Policy(inclusive=False)
    [exact] = check_file(media["ok-1280x720.mp4"], strict)
    [bigger] = check_file(media["ok-1920x1080.mp4"], strict)
    assert [r.code for r in exact.reasons] == [Code.RESOLUTION_TOO_LOW]
    assert bigger.ok


def test_plain_ts_is_accepted_when_the_policy_lists_it(media: dict[str, Path]) -> None:
    from safetymonth.config import SizeRule

    lenient = Policy(video=SizeRule(formats=["MP4", "MPG2", "AVI", "MTS", "TS"],
                                    min_long_side=1280, min_short_side=720))
    [verdict] = check_file(media["plain-1920x1080.ts"], lenient)
    assert verdict.ok


def test_file_over_the_size_limit(media: dict[str, Path]) -> None:
    tiny = Policy(max_file_size=1000)
    [verdict] = check_file(media["ok-1920x1080.mp4"], tiny)
    assert [r.code for r in verdict.reasons] == [Code.TOO_LARGE]


def test_unreadable_path_is_a_verdict_not_a_traceback(tmp_path: Path, policy: Policy) -> None:
    [verdict] = check_file(tmp_path / "missing.jpg", policy)
    assert [r.code for r in verdict.reasons] == [Code.CORRUPT]


@pytest.mark.parametrize(("name", "reader"), [
    ("ok-1920x1080.mp4", "mp4"), ("rotated-90.mp4", "mp4"), ("iphone.mov", "mp4"),
    ("anamorphic-1440x1080.mp4", "mp4"), ("ok-1920x1080.avi", "avi")])
def test_mp4_and_avi_are_read_without_mediainfo(name: str, reader: str,
                                                media: dict[str, Path]) -> None:
    """Their indexes grow with length, so their headers are read directly (constant cost)."""
    from safetymonth.config import VideoRule
    from safetymonth.validator.formats import avi, mp4
    from safetymonth.validator.sandbox import Source

    module = {"mp4": mp4, "avi": avi}[reader]
    path = media[name]
    headers_only = Policy(video=VideoRule(formats=["MP4", "AVI"], min_long_side=1,
                                          min_short_side=1, decode="off"))
    with path.open("rb") as stream:
        verdict = module.probe(stream, path.stat().st_size, headers_only, Source(str(path)))
    assert verdict is not None
    expected_width, expected_height = SINGLE_FILE_CASES[name][3]
    assert (verdict.width, verdict.height) == (expected_width, expected_height)


def test_motion_photo_with_video_after_the_image_passes(tmp_path: Path, media: dict[str, Path],
                                                        policy: Policy) -> None:
    """Android motion photos append an MP4 after the JPEG's end marker: still a whole JPEG."""
    motion = tmp_path / "MVIMG_20240601.jpg"
    motion.write_bytes(media["ok-1920x1080.jpg"].read_bytes()
                       + media["ok-1920x1080.mp4"].read_bytes() * 4)
    [verdict] = check_file(motion, policy)
    assert (verdict.ok, verdict.format, verdict.width, verdict.height) == (
        True, "JPEG", 1920, 1080)


def test_truncated_psd_is_corrupt(tmp_path: Path, media: dict[str, Path],
                                  policy: Policy) -> None:
    cut = tmp_path / "cut.psd"
    cut.write_bytes(media["ok-1920x1080.psd"].read_bytes()[:30])
    [verdict] = check_file(cut, policy)
    assert [r.code for r in verdict.reasons] == [Code.CORRUPT]
    assert (verdict.width, verdict.height) == (1920, 1080)


def test_spreadsheet_is_not_a_summary(tmp_path: Path, policy: Policy) -> None:
    from safetymonth import samples

    sheet = samples.make_zip(tmp_path / "总结.docx", {"[Content_Types].xml": b"<Types/>",
                                                     "xl/workbook.xml": b"<workbook/>"})
    [verdict] = check_file(sheet, policy)
    assert (verdict.kind, verdict.format) == (Kind.DOCUMENT, "XLSX")
    assert [r.code for r in verdict.reasons] == [Code.FORMAT_NOT_ALLOWED]
    assert [w.code for w in verdict.warnings] == [Code.EXTENSION_MISMATCH]


def test_nested_and_empty_zips(tmp_path: Path, media: dict[str, Path], policy: Policy) -> None:
    from safetymonth import samples

    inner = media["gbk-names.zip"].read_bytes()
    outer = samples.make_zip(tmp_path / "outer.zip", {"inner.zip": inner})
    [nested] = check_file(outer, policy, name="outer.zip")
    assert nested.path == "outer.zip!inner.zip"
    assert [r.code for r in nested.reasons] == [Code.UNSUPPORTED_TYPE]
    empty = samples.make_zip(tmp_path / "empty.zip", {})
    [verdict] = check_file(empty, policy, name="empty.zip")
    assert (verdict.kind, [r.code for r in verdict.reasons]) == (Kind.ARCHIVE, [Code.EMPTY])


def test_zipped_videos_that_mediainfo_reads_get_their_verdicts(
        tmp_path: Path, media: dict[str, Path], policy: Policy) -> None:
    from safetymonth import samples

    names = ["ok-1920x1080.mpg", "ok-1920x1080.mts", "plain-1920x1080.ts", "old-mpeg1.mpg"]
    bundle = samples.make_zip(tmp_path / "videos.zip",
                              {name: media[name].read_bytes() for name in names})
    verdicts = {v.path.split("!")[1]: v for v in check_file(bundle, policy)}
    assert {name: (v.format, v.width, v.height, [r.code for r in v.reasons])
            for name, v in verdicts.items()} == {
        "ok-1920x1080.mpg": ("MPG2", 1920, 1080, []),
        "ok-1920x1080.mts": ("MTS", 1920, 1080, []),
        "plain-1920x1080.ts": ("TS", 1920, 1080, [Code.FORMAT_NOT_ALLOWED]),
        "old-mpeg1.mpg": ("MPEG-1", 1920, 1080, [Code.FORMAT_NOT_ALLOWED]),
    }


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def test_damaged_zips_and_hostile_boxes_are_verdicts_never_tracebacks(
        tmp_path: Path, media: dict[str, Path], policy: Policy,
        caplog: pytest.LogCaptureFixture) -> None:
    from safetymonth import samples

    photo = media["ok-1920x1080.jpg"].read_bytes()
    good = samples.make_zip(tmp_path / "good.zip", {"a.jpg": photo}).read_bytes()
    mp4 = media["ok-1920x1080.mp4"].read_bytes()
    stsd = mp4.index(b"stsd")
    hostile = {
        # A flipped byte inside the deflate stream, and "version needed" 9.9 in the
        # directory.
        "inflate.zip": _flip(good, 40),
        "version.zip": good[:good.rindex(b"PK\x01\x02") + 6] + b"\x63\x00" +
        good[good.rindex(b"PK\x01\x02") + 8:],
        # An MP4 whose sample entry is shorter than a visual one.
        "short-stsd.mp4": mp4[:stsd + 12] + (20).to_bytes(4, "big") + mp4[stsd + 16:],
        # 3000 nested trak boxes in the moov.
        "deep.mp4": (16).to_bytes(4, "big") + b"ftypisom\x00\x00\x00\x00" +
        (8 * 3001 + 16).to_bytes(4, "big") + b"moov" +
        b"".join((8 * (3000 - i) + 16).to_bytes(4, "big") + b"trak" for i in range(3000)) +
        b"\x00" * 16,
        # An AVI whose header list claims 2 bytes.
        "short-hdrl.avi": b"RIFF\x00\x10\x00\x00AVI LIST\x02\x00\x00\x00hdrl" + b"\x00" * 64,
    }
    for name, data in hostile.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert check_file(path, policy, name=name), name
    # Each probe judged its file itself: none fell through to check_file's last resort.
    assert "the check failed" not in caplog.text
    [deep] = check_file(tmp_path / "deep.mp4", policy)
    assert (deep.format, [r.code for r in deep.reasons]) == ("MP4", [Code.CORRUPT])
    [inflate] = check_file(tmp_path / "inflate.zip", policy)
    assert [r.code for r in inflate.reasons] == [Code.CORRUPT]


def test_a_huge_zip_directory_is_refused_before_it_is_loaded(tmp_path: Path,
                                                            policy: Policy) -> None:
    import struct
    import tracemalloc

    # 60000 directory entries of an empty stored file: Python's zipfile would build 60000
    # ZipInfo objects (tens of MB) before the member limit could be checked.
    entry = (b"PK\x01\x02" + struct.pack("<HHHHHHIIIHHHHHII", 20, 20, 0, 0, 0, 0, 0, 0, 0,
                                         1, 0, 0, 0, 0, 0, 0) + b"a")
    local = b"PK\x03\x04" + struct.pack("<HHHHHIIIHH", 20, 0, 0, 0, 0, 0, 0, 0, 1, 0) + b"a"
    count = 60_000
    directory = entry * count
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, count, count, len(directory),
                                       len(local), 0)
    many = tmp_path / "many.zip"
    many.write_bytes(local + directory + end)
    tracemalloc.start()
    [verdict] = check_file(many, policy, name="many.zip")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [r.code for r in verdict.reasons] == [Code.UNSAFE_ARCHIVE]
    assert "60000" in verdict.reasons[0].message
    assert peak < 1_000_000
    # An end record that under-declares its members but not its directory size.
    liar = tmp_path / "liar.zip"
    liar.write_bytes(local + directory + b"PK\x05\x06" + struct.pack(
        "<HHHHIIH", 0, 0, 1, 1, len(directory), len(local), 0))
    [verdict] = check_file(liar, policy, name="liar.zip")
    assert [r.code for r in verdict.reasons] == [Code.UNSAFE_ARCHIVE]


def test_rar_7z_and_fifo_get_a_sentence_not_a_hang(tmp_path: Path, policy: Policy) -> None:
    import os

    (tmp_path / "照片.rar").write_bytes(b"Rar!\x1a\x07\x01\x00" + b"\x00" * 64)
    (tmp_path / "照片.7z").write_bytes(b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 64)
    os.mkfifo(tmp_path / "pipe.jpg")
    for name, fmt in (("照片.rar", "RAR"), ("照片.7z", "7Z"), ("pipe.jpg", None)):
        [verdict] = check_file(tmp_path / name, policy)
        assert (verdict.format, [r.code for r in verdict.reasons]) == (
            fmt, [Code.UNSUPPORTED_TYPE]), name
    [rar] = check_file(tmp_path / "照片.rar", policy)
    assert "ZIP" in rar.reasons[0].message


def test_a_member_without_extension_gets_no_mismatch_warning(
        tmp_path: Path, media: dict[str, Path], policy: Policy) -> None:
    from safetymonth import samples

    bundle = samples.make_zip(tmp_path / "a.zip",
                              {"IMG_0001": media["ok-1920x1080.jpg"].read_bytes()})
    [verdict] = check_file(bundle, policy, name="a.zip")
    assert verdict.ok and verdict.warnings == []


def test_inclusive_can_differ_between_photos_and_videos(media: dict[str, Path]) -> None:
    from safetymonth.config import SizeRule

    # The 2016 notice: videos strictly above 1280×720, photos at least 1920×1080.
    notice = Policy(video=SizeRule(formats=["MP4", "MPG2", "AVI", "MTS"], min_long_side=1280,
                                   min_short_side=720, inclusive=False))
    [video] = check_file(media["ok-1280x720.mp4"], notice)
    [photo] = check_file(media["ok-1920x1080.jpg"], notice)
    assert [r.code for r in video.reasons] == [Code.RESOLUTION_TOO_LOW]
    assert "高于1280×720" in video.reasons[0].message
    assert photo.ok
