"""The sandbox: third-party parsers run in pooled worker processes with a memory cap and a time
limit per file, so a hostile file costs one verdict, never the batch or the poller.

The hostile files in tests/data/hostile/ are real: mutants of small ffmpeg-made videos, found by
mutating bytes and running MediaInfo on them. On ``mediainfo-hang.*`` MediaInfo (libmediainfo
24.12, and the 23.04 CLI) does not return within minutes; on ``gigabytes-mediainfo-no-video.mp4``
(from the fuzz branch) it allocates about 1.6 GB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from safetymonth import samples
from safetymonth.config import Policy, ProbeLimits, SizeRule
from safetymonth.validator import Code, check_file, sandbox
from safetymonth.validator.batch import validate_paths
from safetymonth.validator.formats.media import probe_video
from safetymonth.validator.sandbox import Source

HOSTILE = Path(__file__).parents[1] / "data" / "hostile"
HANG_WEBM = HOSTILE / "mediainfo-hang.webm"
HANG_MKV = HOSTILE / "mediainfo-hang.mkv"
HANG_MP4 = HOSTILE / "mediainfo-hang.mp4"
# Found by the fuzz branch (zzuf on a 3 KB ffmpeg MP4; see its tests/data/hostile/README.md):
# its boxes are whole, so it reaches MediaInfo, which then takes about 1.6 GB.
GIGABYTES_MP4 = HOSTILE / "gigabytes-mediainfo-no-video.mp4"
# Short limits keep the tests quick; the defaults (10 s, 1 GiB) behave the same way.
QUICK = ProbeLimits(timeout=2)
# A policy that takes WebM and MKV, so a hostile one is judged on its content, not its name.
TAKES_WEBM = Policy(probe=QUICK, video=SizeRule(formats=["MP4", "MPG2", "MTS", "WEBM", "MKV"],
                                                  min_long_side=1280, min_short_side=720))


def codes(verdict: object) -> list[Code]:
    return [reason.code for reason in verdict.reasons]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_file_that_makes_mediainfo_hang_is_unreadable_and_the_next_file_is_checked(
        media: dict[str, Path]) -> None:
    with pytest.raises(sandbox.Overrun):  # the parser itself does not return in time
        sandbox.run(probe_video, (Source(str(HANG_WEBM)),), QUICK)
    [hung] = check_file(HANG_WEBM, TAKES_WEBM)
    assert (hung.format, codes(hung)) == ("WEBM", [Code.CORRUPT])
    assert "无法读取" in hung.reasons[0].message and "超出时间或内存限制" in hung.reasons[0].message
    # The killed worker was replaced: the next file through MediaInfo gets its verdict.
    [after] = check_file(media["ok-1920x1080.mts"], TAKES_WEBM)
    assert (after.ok, after.format, after.width, after.height) == (True, "MTS", 1920, 1080)


@pytest.mark.slow
def test_a_hanging_container_the_campaign_refuses_gets_send_an_mp4(media: dict[str, Path]
                                                                    ) -> None:
    for hostile, fmt in ((HANG_WEBM, "WEBM"), (HANG_MKV, "MKV")):
        [verdict] = check_file(hostile, Policy(probe=QUICK))
        assert (verdict.format, codes(verdict)) == (fmt, [Code.FORMAT_NOT_ALLOWED])
        assert "请转换为MP4后重新报送" in verdict.reasons[0].message


def test_an_mp4_that_hangs_mediainfo_is_refused_by_its_structure_first() -> None:
    """Its box structure is broken, so it never reaches MediaInfo, which would hang on it."""
    with pytest.raises(sandbox.Overrun):
        sandbox.run(probe_video, (Source(str(HANG_MP4)),), QUICK)
    [verdict] = check_file(HANG_MP4, Policy(probe=QUICK))
    assert (verdict.format, codes(verdict)) == ("MP4", [Code.CORRUPT])
    assert "超出时间或内存限制" not in verdict.reasons[0].message


@pytest.mark.slow
def test_a_batch_goes_on_past_hostile_files(tmp_path: Path, media: dict[str, Path]) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    names = ["ok-1920x1080.jpg", "ok-1920x1080.mpg", "ok-1920x1080.mts", "ok-2560x1440.png"]
    for index, name in enumerate(names * 5):
        (folder / f"{index:02d}-{name}").write_bytes(media[name].read_bytes())
    (folder / "10-hang.webm").write_bytes(HANG_WEBM.read_bytes())
    (folder / "11-hang.mkv").write_bytes(HANG_MKV.read_bytes())
    verdicts = {Path(v.path).name: v for v in validate_paths([folder], TAKES_WEBM, jobs=2)}
    assert len(verdicts) == 22
    assert codes(verdicts["10-hang.webm"]) == codes(verdicts["11-hang.mkv"]) == [Code.CORRUPT]
    good = [v for name, v in verdicts.items() if "hang" not in name]
    assert all(v.ok for v in good), [v.to_dict() for v in good if not v.ok]
    pool = sandbox.current_pool()
    assert pool is not None and len(pool.pids()) <= 2  # --jobs 2: never more workers


def test_memory_cap_stops_a_parser_that_allocates_too_much(tmp_path: Path,
                                                          media: dict[str, Path]) -> None:
    """A progressive JPEG declaring 14000×14000 (196 MP, under the bomb limit): libjpeg must
    hold every coefficient of the picture (about 590 MB) whatever the scale it outputs. A
    worker capped at 256 MiB cannot, so the file is corrupt; this process never held it."""
    import resource
    import struct

    source = tmp_path / "prog.jpg"
    Image.effect_noise((640, 480), 40).convert("RGB").save(source, progressive=True)
    data = bytearray(source.read_bytes())
    frame = data.index(b"\xff\xc2")  # SOF2: progressive
    data[frame + 5:frame + 9] = struct.pack(">HH", 14000, 14000)
    huge = tmp_path / "huge-progressive.jpg"
    huge.write_bytes(bytes(data))

    capped = ProbeLimits(max_memory=256 * 1024**2)
    worker = sandbox.run(os.getpid, (), capped)
    limits = Path(f"/proc/{worker}/limits").read_text()
    line = next(row for row in limits.splitlines() if row.startswith("Max address space"))
    assert line.split()[3:5] == [str(256 * 1024**2)] * 2
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    [starved] = check_file(huge, Policy(probe=capped))
    assert (starved.width, starved.height, codes(starved)) == (14000, 14000, [Code.CORRUPT])
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB
    [after] = check_file(media["ok-1920x1080.jpg"], Policy(probe=capped))
    assert after.ok


def _worker_peak_mb() -> float:
    pool = sandbox.current_pool()
    assert pool is not None
    [pid] = pool.pids()
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(row.split()[1] for row in status.splitlines()
                    if row.startswith("VmHWM"))) / 1024


@pytest.mark.slow
def test_an_mp4_that_makes_mediainfo_take_gigabytes_is_held_to_the_cap(
        media: dict[str, Path]) -> None:
    """Under a 1 GiB cap MediaInfo still grows its worker past 256 MiB on this file; under a
    256 MiB cap its allocations fail inside the worker, and the file gets its verdict all the
    same, from the same worker, which stays usable."""
    verdicts = {}
    for cap in (1024, 256):
        sandbox.shutdown()
        limits = ProbeLimits(max_memory=cap * 1024**2, timeout=30)
        [verdicts[cap]] = check_file(GIGABYTES_MP4, Policy(probe=limits))
        peak = _worker_peak_mb()
        assert peak < cap
        if cap == 1024:
            assert peak > 256
        [after] = check_file(media["ok-1920x1080.mts"], Policy(probe=limits))
        assert after.ok
    for verdict in verdicts.values():
        assert (verdict.format, codes(verdict)) == ("MP4", [Code.CORRUPT])


def test_workers_are_reused_not_started_per_file(media: dict[str, Path]) -> None:
    sandbox.shutdown()
    for _ in range(5):
        for name in ("ok-1920x1080.mts", "ok-1920x1080.jpg", "ok-1920x1080.mpg"):
            [verdict] = check_file(media[name], Policy())
            assert verdict.ok
    pool = sandbox.current_pool()
    assert pool is not None and len(pool.pids()) == 1  # one caller at a time: one worker
    [pid] = pool.pids()
    sandbox.shutdown()
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(
        f"/proc/{pid}/status").read_text()


def test_zip_members_are_probed_by_the_worker_from_the_archive(
        tmp_path: Path, media: dict[str, Path]) -> None:
    bundle = samples.make_zip(tmp_path / "videos.zip", {
        "hang.webm": HANG_WEBM.read_bytes(),
        "演练.mts": media["ok-1920x1080.mts"].read_bytes(),
        "现场.jpg": media["ok-1920x1080.jpg"].read_bytes()})
    verdicts = {v.path.split("!")[1]: v for v in check_file(bundle, TAKES_WEBM)}
    assert codes(verdicts["hang.webm"]) == [Code.CORRUPT]
    assert (verdicts["演练.mts"].ok, verdicts["演练.mts"].format) == (True, "MTS")
    assert (verdicts["现场.jpg"].ok, verdicts["现场.jpg"].width) == (True, 1920)


def test_pillow_bomb_guard_is_never_switched_off(media: dict[str, Path]) -> None:
    """Checks in threads must not flip Pillow's process-global bomb limit, which the code once
    set to None around every header read."""
    seen: set[object] = set()
    done = threading.Event()

    def check_many() -> None:
        for _ in range(300):
            check_file(media["forward.webp"], Policy())
        done.set()

    thread = threading.Thread(target=check_many)
    thread.start()
    while not done.is_set():
        seen.add(Image.MAX_IMAGE_PIXELS)
    thread.join()
    assert seen == {Image.MAX_IMAGE_PIXELS} and None not in seen


@pytest.mark.slow
def test_validate_cli_with_jobs_and_a_hostile_file_exits_cleanly(
        tmp_path: Path, media: dict[str, Path]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("policy:\n  probe:\n    timeout: 2\n  video:\n    formats: [MP4, WEBM]\n"
                      "    min_long_side: 1280\n    min_short_side: 720\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "safetymonth", "--config", str(config), "validate", "--json",
         "--jobs", "2", str(HANG_WEBM), str(media["ok-1920x1080.mp4"])],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    hung, good = json.loads(result.stdout)
    assert [r["code"] for r in hung["reasons"]] == ["corrupt"] and good["ok"] is True


def test_a_forked_child_gets_its_own_pool(media: dict[str, Path]) -> None:
    check_file(media["ok-1920x1080.mts"], Policy())
    parent_pool = sandbox.current_pool()
    assert parent_pool is not None
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (runs in the child)
        try:
            [verdict] = check_file(media["ok-1920x1080.mts"], Policy())
            pool = sandbox.current_pool()
            os.write(write, json.dumps([verdict.ok, pool.pids() if pool else []]).encode())
        finally:
            os._exit(0)
    os.close(write)
    ok, child_pids = json.loads(os.read(read, 4096))
    os.waitpid(child, 0)
    assert ok and child_pids and not set(child_pids) & set(parent_pool.pids())
    [verdict] = check_file(media["ok-1920x1080.mts"], Policy())  # the parent's still works
    assert verdict.ok


@pytest.mark.slow
def test_the_poller_records_a_hostile_attachment_and_goes_on(tmp_path: Path,
                                                             media: dict[str, Path]) -> None:
    """``poll --once`` in its own process: the attachment that hangs MediaInfo costs its own
    verdict, the photo beside it and the next message are checked, and the command exits."""
    from safetymonth.mailbox import samplemail
    from safetymonth.storage.repository import PROCESSED, Repository
    from tests.support.mailservers import drop, write_config

    config = write_config(tmp_path, policy={
        "probe": {"timeout": 2},
        "video": {"formats": ["MP4", "MTS", "WEBM"], "min_long_side": 1280, "min_short_side": 720}})
    sender = "fuli@dhmz.example.cn"
    drop(tmp_path / "inbox", "m1.eml", samplemail.message(sender, "活动视频", [
        samplemail.file_part(HANG_WEBM.read_bytes(), b'filename="hang.webm"'),
        samplemail.file_part(media["ok-1920x1080.jpg"].read_bytes(), b'filename="a.jpg"')]))
    drop(tmp_path / "inbox", "m2.eml", samplemail.message(sender, "活动照片", [
        samplemail.file_part(media["ok-1920x1080.mts"].read_bytes(), b'filename="b.mts"')]))
    result = subprocess.run([sys.executable, "-m", "safetymonth", "--config", str(config),
                             "poll", "--once"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    with Repository(tmp_path / "storage") as store:
        rows = store.messages()
        assert [row.state for row in rows] == [PROCESSED, PROCESSED]
        verdicts = {attachment.name: attachment.verdicts[0]
                    for row in rows for attachment in store.attachments(row.id)}
    assert [r["code"] for r in verdicts["hang.webm"]["reasons"]] == ["corrupt"]
    assert "无法读取" in verdicts["hang.webm"]["reasons"][0]["message"]
    assert verdicts["a.jpg"]["ok"] and verdicts["b.mts"]["ok"]


def _verdict_in_pool_worker(path: str) -> tuple[bool, str | None, int | None]:
    [verdict] = check_file(Path(path), Policy())
    return verdict.ok, verdict.format, verdict.width


def test_a_caller_that_is_itself_a_daemonic_pool_worker_can_use_the_sandbox(
        media: dict[str, Path]) -> None:
    """multiprocessing.Pool workers are daemonic and may not have multiprocessing children;
    the sandbox's workers are plain subprocesses, so such a caller still gets its verdicts."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        results = pool.map(_verdict_in_pool_worker,
                           [str(media["ok-1920x1080.mts"]), str(media["ok-1920x1080.jpg"])])
    assert results == [(True, "MTS", 1920), (True, "JPEG", 1920)]


def test_mediainfo_is_loaded_only_in_the_workers(media: dict[str, Path]) -> None:
    """Its options are process-global; the process that calls check_file never loads it.
    A Matroska file: MediaInfo still reads those (MPEG-PS and TS are FFmpeg's now)."""
    def loaded(pid: int | str) -> bool:
        return "libmediainfo" in Path(f"/proc/{pid}/maps").read_text()

    script = ("import sys\nfrom pathlib import Path\nfrom safetymonth.config import Policy\n"
              "from safetymonth.validator import check_file\n"
              "[verdict] = check_file(Path(sys.argv[1]), Policy())\n"
              "maps = Path('/proc/self/maps').read_text()\n"
              "print(verdict.ok, 'libmediainfo' in maps)\n")
    result = subprocess.run([sys.executable, "-c", script, str(media["download.mkv"])],
                            capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.split() == ["False", "False"]  # MKV: not a format the policy takes
    check_file(media["download.mkv"], Policy())
    pool = sandbox.current_pool()
    assert pool is not None and any(loaded(pid) for pid in pool.pids())
    assert not loaded("self")
