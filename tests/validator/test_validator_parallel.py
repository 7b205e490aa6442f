"""Several files checked on both cores (``check_files``: a sandbox worker per thread) and
workers started ahead of the first file (``prestart``), with the verdicts of one file at a
time."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from safetymonth.config import Policy
from safetymonth.validator import check_file, check_files, prestart, sandbox
from tests.support.watching import wait_for

# Each goes through the sandbox: the JPEG decode, FFmpeg's open of the MTS and MPG, the
# first keyframe of the MP4; the PNG and the broken file stay in this process.
NAMES = ["ok-1920x1080.jpg", "ok-1920x1080.mts", "ok-1920x1080.mpg", "ok-1920x1080.mp4",
         "ok-2560x1440.png", "truncated.jpg"]


@pytest.fixture
def two_workers() -> Iterator[None]:
    """A fresh pool of two workers (this machine may have more cores, or fewer)."""
    sandbox.set_size(2)
    sandbox.shutdown()
    yield
    sandbox.set_size(os.cpu_count() or 1)


def test_several_files_get_the_verdicts_of_one_at_a_time_from_two_workers(
        media: dict[str, Path], policy: Policy, two_workers: None) -> None:
    files = [media[name] for name in NAMES]
    alone = [check_file(path, policy) for path in files]
    sandbox.shutdown()
    together = check_files(files, policy)
    assert [[v.to_dict() for v in vs] for vs in together] == \
        [[v.to_dict() for v in vs] for vs in alone]
    assert [verdict.ok for [verdict] in together] == [True] * 5 + [False]
    pool = sandbox.current_pool()
    assert pool is not None and len(pool.pids()) == 2  # both cores


def test_one_file_is_checked_with_one_worker(media: dict[str, Path], policy: Policy,
                                             two_workers: None) -> None:
    [[verdict]] = check_files([media["ok-1920x1080.mts"]], policy)
    assert (verdict.ok, verdict.format, verdict.width, verdict.height) == (
        True, "MTS", 1920, 1080)
    pool = sandbox.current_pool()
    assert pool is not None and len(pool.pids()) == 1


def test_names_are_reported_and_judged_by_their_extension(
        media: dict[str, Path], policy: Policy, tmp_path: Path, two_workers: None) -> None:
    stored = [tmp_path / "3f2a", tmp_path / "9c01"]  # stored under a hash, as intake does
    shutil.copy(media["ok-1920x1080.jpg"], stored[0])
    shutil.copy(media["ok-1920x1080.mp4"], stored[1])
    [[photo], [video]] = check_files(stored, policy, ["现场照片.jpg", "演练.mov"])
    assert (photo.path, photo.ok, photo.warnings) == ("现场照片.jpg", True, [])
    assert (video.path, video.format) == ("演练.mov", "MP4")
    assert [w.code for w in video.warnings] == ["extension_mismatch"]  # an MP4 named .mov
    with pytest.raises(ValueError):
        check_files(stored, policy, ["只有一个名字.jpg"])


def test_prestart_starts_as_many_workers_as_asked_never_more_than_the_pool(
        media: dict[str, Path], policy: Policy, two_workers: None) -> None:
    prestart(policy.probe, workers=2)
    assert wait_for(lambda: len(_pids()) == 2, timeout=120)
    started = _pids()
    prestart(policy.probe, workers=5)  # two are running: nothing to start
    check_files([media["ok-1920x1080.jpg"], media["ok-1920x1080.mts"]], policy)
    assert _pids() == started  # the prestarted workers did the work


def test_files_checked_while_prestarted_workers_start_wait_for_them(
        media: dict[str, Path], policy: Policy, two_workers: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []

    class Counted(sandbox._Worker):  # a real worker process, its start counted
        def __init__(self, max_memory: int) -> None:
            super().__init__(max_memory)
            started.append(self.process.pid)

    monkeypatch.setattr(sandbox, "_Worker", Counted)
    prestart(policy.probe, workers=2)  # returns at once: the checks begin while they start
    together = check_files([media[name] for name in NAMES], policy)
    assert [verdict.ok for [verdict] in together] == [True] * 5 + [False]
    # The second may still be starting when the first has done every file.
    assert wait_for(lambda: len(_pids()) == 2, timeout=120)
    assert len(started) == 2 and sorted(started) == _pids()  # no third or fourth start


def _pids() -> list[int]:
    pool = sandbox.current_pool()
    return pool.pids() if pool else []
