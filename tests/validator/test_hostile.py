"""The hostile corpus (tests/data/hostile/, see its README) through ``safetymonth validate``.

Every fixture is a real file: a zzuf mutant of a tiny ffmpeg- or Pillow-made seed, or byte
surgery on one. What an expert concludes is taken from independent tools on the same bytes
(ffprobe, ffmpeg decoding, a full Pillow load), never from our own output: every fixture is
unreadable to them, so every verdict must be ``corrupt``. The CLI runs as a subprocess with
short sandbox limits (``policy.probe``); it must return, print no traceback, and no process of
the run may grow past the memory cap, although MediaInfo alone takes gigabytes on some of them.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.storage.repository import PROCESSED, Repository
from tests.support.guarded import Run, run_cli
from tests.support.mailservers import drop
from tests.support.mailservers import write_config as mail_config

HOSTILE = Path(__file__).parents[1] / "data" / "hostile"
CONTRACT_KEYS = {"path", "kind", "format", "width", "height", "ok", "reasons", "warnings"}
PHOTOS = (".jpg", ".png", ".heic")
MiB = 1024 * 1024
CAMPAIGN_FORMATS = {"photo": ["JPEG", "PNG", "PSD"], "video": ["MP4", "MPG2", "AVI", "MTS"]}
PROBE_MEMORY = 1024 * MiB
# Guards for the test itself, so today's unsandboxed code cannot take the machine down: an
# address-space cap on the whole run and a wall clock after which it is killed (a hang fails).
RUN_MEMORY_GUARD = 8 * 1024 * MiB
RUN_WALL_GUARD = 120


def fixtures() -> list[str]:
    """The fixtures this module owns: the ones make.py builds (the folder holds others too)."""
    spec = importlib.util.spec_from_file_location("hostile_make", HOSTILE / "make.py")
    make = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(make)  # type: ignore[union-attr]
    return sorted([*make.ZZUF, *make.SURGERY])


FIXTURES = fixtures()


def write_config(folder: Path, formats: dict[str, list[str]] | None = None) -> Path:
    """Short probe limits; sizes low enough that the tiny fixtures are judged on integrity."""
    policy: dict[str, object] = {
        "probe": {"timeout": 3, "max_memory": PROBE_MEMORY},
    }
    for kind, names in {**CAMPAIGN_FORMATS, **(formats or {})}.items():
        policy[kind] = {"formats": names, "min_long_side": 16, "min_short_side": 16}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump({"policy": policy, "storage": {"dir": "storage"}}),
                    encoding="utf-8")
    return path


def run_validate(config: Path, paths: list[Path]) -> Run:
    return run_guarded(["--config", str(config), "validate", "--json", "--jobs", "2",
                        *map(str, paths)], config.parent)


def run_guarded(args: list[str], folder: Path) -> Run:
    return run_cli(args, folder, wall=RUN_WALL_GUARD, memory=RUN_MEMORY_GUARD)


def expert_rejects(path: Path) -> str | None:
    """What the independent tools say is wrong with ``path``, or None if they accept it."""
    if path.suffix in PHOTOS:
        import pillow_heif

        pillow_heif.register_heif_opener()
        try:
            with Image.open(path) as image:
                image.load()
        except Exception as error:  # any failure to decode is the finding
            return f"Pillow: {error}"
        return None
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v",
                            "-show_entries", "stream=width,height", "-of", "json", str(path)],
                           capture_output=True, text=True, timeout=60)
    streams = json.loads(probe.stdout or "{}").get("streams", [])
    if probe.returncode or not any(s.get("width") and s.get("height") for s in streams):
        return f"ffprobe: no video stream with a size ({probe.stderr.strip()[-200:]})"
    decode = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                            capture_output=True, text=True, timeout=60)
    if decode.returncode or decode.stderr.strip():
        return f"ffmpeg decoding: {decode.stderr.strip()[-200:]}"
    return None


@pytest.fixture(scope="module")
def takes_every_container(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """One batch over all fixtures, with WebM and HEIC allowed so that those are judged on
    their content (they reach MediaInfo, which hangs on them) rather than on their names."""
    folder = tmp_path_factory.mktemp("hostile")
    config = write_config(folder, {
        "photo": ["JPEG", "PNG", "PSD", "HEIC"],
        "video": ["MP4", "MPG2", "AVI", "MTS", "WEBM", "MKV"]})
    run = run_validate(config, [HOSTILE / name for name in FIXTURES])
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 1, run.stderr
    assert run.peak_rss < PROBE_MEMORY + 512 * MiB, f"peak RSS {run.peak_rss // MiB} MiB"
    verdicts = json.loads(run.stdout)
    assert all(set(verdict) == CONTRACT_KEYS for verdict in verdicts)
    return {Path(verdict["path"]).name: verdict for verdict in verdicts}


@pytest.mark.parametrize("name", FIXTURES)
def test_the_experts_reject_every_fixture(name: str) -> None:
    """The premise of the verdicts below, checked with the independent tools."""
    assert expert_rejects(HOSTILE / name) is not None


# Each of these takes its probe's whole time limit: make test runs them, test-fast does not.
HEAVY = {"gigabytes-mediainfo-no-video.mp4", "contradictory-stsc-stco.mp4"}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow)
                                  if name in HEAVY else name for name in FIXTURES])
def test_every_fixture_is_corrupt(name: str, takes_every_container: dict[str, dict]) -> None:
    verdict = takes_every_container[name]
    assert verdict["ok"] is False
    assert [reason["code"] for reason in verdict["reasons"]] == ["corrupt"], verdict
    assert all(reason["message"] for reason in verdict["reasons"])


@pytest.mark.slow
def test_the_campaign_policy_refuses_the_containers_it_does_not_take(tmp_path: Path) -> None:
    """With the default formats, a WebM or HEIC that hangs MediaInfo is refused either way:
    by its name (send an MP4 / a JPEG) or as unreadable."""
    hostile = [HOSTILE / name for name in FIXTURES if name.endswith((".webm", ".heic"))]
    run = run_validate(write_config(tmp_path), hostile)
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 1
    verdicts = json.loads(run.stdout)
    assert [Path(v["path"]).name for v in verdicts] == [path.name for path in hostile]
    for verdict in verdicts:
        codes = [reason["code"] for reason in verdict["reasons"]]
        assert verdict["ok"] is False and len(codes) == 1, verdict
        assert codes[0] in ("format_not_allowed", "corrupt"), verdict


@pytest.mark.slow
def test_a_hostile_file_costs_one_verdict_in_a_batch(tmp_path: Path) -> None:
    """The files after a hang and a gigabyte allocation still get their real verdicts."""
    good = tmp_path / "good"
    good.mkdir()
    seed_video = good / "seed.mp4"
    seed_video.write_bytes((HOSTILE / "seeds" / "seed.mp4").read_bytes())
    seed_photo = good / "seed.png"
    seed_photo.write_bytes((HOSTILE / "seeds" / "seed-noise.png").read_bytes())
    hostile = [HOSTILE / "hang-mediainfo.webm", HOSTILE / "gigabytes-mediainfo.mp4"]
    config = write_config(tmp_path, {"video": ["MP4", "WEBM"]})
    run = run_validate(config, [*hostile, seed_video, seed_photo])
    assert "Traceback" not in run.stderr, run.stderr
    verdicts = {Path(v["path"]).name: v for v in json.loads(run.stdout)}
    assert [verdicts[p.name]["ok"] for p in hostile] == [False, False]
    # The seeds were made by ffmpeg (32×32 H.264) and Pillow (64×48 RGB noise).
    video, photo = verdicts["seed.mp4"], verdicts["seed.png"]
    assert (video["ok"], video["format"], video["width"], video["height"]) == \
        (True, "MP4", 32, 32)
    assert (photo["ok"], photo["format"], photo["width"], photo["height"]) == \
        (True, "PNG", 64, 48)


@pytest.mark.slow
def test_a_hostile_attachment_does_not_stall_the_poller(tmp_path: Path,
                                                          mail_media: Media) -> None:
    """A unit sends a WebM that hangs MediaInfo and an MP4 that makes it take gigabytes; the
    next unit's complete submission is still checked and answered in the same poll."""
    hostile = ["hang-mediainfo.webm", "gigabytes-mediainfo-no-video.mp4"]
    drop(tmp_path / "inbox", "1-hostile.eml", samplemail.message(
        "fuli@dhmz.example.cn", "活动视频", [
            samplemail.text_part("请查收视频。"),
            *(samplemail.file_part((HOSTILE / name).read_bytes(), samplemail.utf8_name(name),
                                   "video/mp4") for name in hostile)],
        message_id="<hostile@dhmz>"))
    drop(tmp_path / "inbox", "2-good.eml", samplemail.complete_submission(
        "xzjly@dhmz.example.cn", mail_media, "<good@dhmz>"))
    config = mail_config(tmp_path, policy={
        "probe": {"timeout": 3, "max_memory": PROBE_MEMORY},
        "video": {"formats": ["MP4", "MPG2", "AVI", "MTS", "WEBM"], "min_long_side": 1280,
                  "min_short_side": 720}})

    run = run_guarded(["--config", str(config), "poll", "--once"], tmp_path)

    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 0, run.stderr
    assert run.peak_rss < PROBE_MEMORY + 512 * MiB, f"peak RSS {run.peak_rss // MiB} MiB"
    with Repository(tmp_path / "storage") as store:
        rows = {row.message_id: row for row in store.messages()}
        assert {rows[key].state for key in rows} == {PROCESSED}
        verdicts = {attachment.name: attachment.verdicts[0]
                    for attachment in store.attachments(rows["<hostile@dhmz>"].id)}
        good = [attachment.verdicts[0]["ok"]
                for attachment in store.attachments(rows["<good@dhmz>"].id)]
    assert [verdicts[name]["ok"] for name in hostile] == [False, False]
    assert all(verdicts[name]["reasons"][0]["code"] == "corrupt" for name in hostile)
    assert good == [True, True, True]  # made by Pillow, ffmpeg and python-docx: all valid
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 2  # both units answered


def test_make_py_rebuilds_the_fixtures_byte_for_byte() -> None:
    """The provenance in the README is real: zzuf and the surgery give the committed bytes."""
    result = subprocess.run([sys.executable, str(HOSTILE / "make.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
