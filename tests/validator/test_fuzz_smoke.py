"""A bounded fuzz run in every ``make test``: fixed-seed mutants of the validator's corpus
through ``safetymonth validate --json``, and of real sample mail through ``poll --once``.

It is bounded by counts and by the sandbox's per-file limits (``policy.probe``), not by a clock:
a few hundred media files in one batch, a few dozen messages in one poll. Longer campaigns are
in bench/fuzz.py.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from safetymonth.mailbox.samplemail import Media
from safetymonth.storage.repository import FAILED, PROCESSED, TOO_LARGE, Repository
from tests.support.mailservers import drop, write_config
from tests.support.media_corpus import ffmpeg_decodes, pillow_loads
from tests.support.mutate import mutate_mail, mutate_media, sample_mail

CONTRACT_KEYS = {"path", "kind", "format", "width", "height", "ok", "reasons", "warnings"}
MUTANTS_PER_FILE = 8
SEEDS = Path(__file__).parents[1] / "data" / "hostile" / "seeds"
# Video kinds the corpus has no file of, as tiny ffmpeg seeds (tests/data/hostile/README.md).
SEED_KINDS = ["seed-fragmented.mp4", "seed-hevc.mp4", "seed-mpeg2.mpg", "seed-mjpeg.avi"]
MAILS = 36
PROBE = {"timeout": 3, "max_memory": "1 GiB"}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safetymonth", *args], capture_output=True,
                          text=True, timeout=600)


def test_mutated_media_each_get_a_verdict(tmp_path: Path, media: dict[str, Path]) -> None:
    folder = tmp_path / "mutants"
    folder.mkdir()
    mutants = []
    sources = {**media, **{name: SEEDS / name for name in SEED_KINDS}}
    for number, name in enumerate(sorted(sources)):
        data = sources[name].read_bytes()
        for copy in range(MUTANTS_PER_FILE):
            rng = random.Random(number * 1000 + copy)
            mutant = folder / f"{copy}-{name}"
            mutant.write_bytes(mutate_media(data, rng))
            mutants.append(mutant)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"policy": {"probe": PROBE}}), encoding="utf-8")

    result = cli("--config", str(config), "validate", "--json", "--jobs", "2", str(folder))

    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode in (0, 1), result.stderr[-3000:]
    verdicts = json.loads(result.stdout)
    assert all(set(verdict) == CONTRACT_KEYS for verdict in verdicts)
    for verdict in verdicts:
        assert isinstance(verdict["ok"], bool)
        assert verdict["ok"] == (not verdict["reasons"]), verdict
        assert all(reason["code"] and reason["message"] for reason in verdict["reasons"])
    # Every mutant has its verdict (a zip has one per member, named ARCHIVE!MEMBER).
    judged = {verdict["path"].split("!", 1)[0] for verdict in verdicts}
    assert judged == {str(mutant) for mutant in mutants}


@pytest.mark.slow
def test_mutated_mail_is_each_recorded_or_failed(tmp_path: Path, mail_media: Media) -> None:
    inbox = tmp_path / "inbox"
    names = []
    for index in range(MAILS):
        name = f"{index:03d}.eml"
        raw = sample_mail(mail_media, index, "smoke")
        drop(inbox, name, mutate_mail(raw, random.Random(index)))
        names.append(name)
    # One try per message, so that one poll settles each of them.
    config = write_config(tmp_path, mailbox={"max_tries": 1}, policy={"probe": PROBE})

    poll = cli("--config", str(config), "poll", "--once")
    report = cli("--config", str(config), "report", "--json")

    assert "Traceback" not in poll.stderr, poll.stderr[-3000:]
    assert poll.returncode == 0, poll.stderr[-3000:]
    assert "Traceback" not in report.stderr and report.returncode == 0, report.stderr[-3000:]
    keys = [f"maildir:{name}" for name in names]
    with Repository(tmp_path / "storage") as store:
        # A duplicate delivery (the same bytes, or the same Message-ID from the same sender:
        # a mutation may delete the Message-ID) is recorded as an alias of the first one.
        rows = {key: store.message_for_key(key) for key in keys}
    assert [key for key, row in rows.items() if row is None] == []
    states = {key: row.state for key, row in rows.items() if row is not None}
    assert set(states.values()) <= {PROCESSED, FAILED, TOO_LARGE}
    # What is left in new/ is exactly what report lists as failed; the rest moved to cur/.
    left = {f"maildir:{path.name}" for path in (inbox / "new").iterdir()}
    failed = {row["source_key"] for row in json.loads(report.stdout)["failed"]}
    assert left == {key for key in keys if states[key] != PROCESSED}
    assert {record.source_key for key in left if (record := rows[key])} <= failed


def _image_seeds(folder: Path) -> list[Path]:
    """Seeds for the structure the photo probes check beyond the header: PSD and PSB RLE
    rows (8- and 16-bit), and PNG chunk orders (many IDATs, an APNG's acTL/fcTL/fdAT, a
    palette's PLTE and tRNS before the image data)."""
    from PIL import Image

    from safetymonth import samples

    folder.mkdir()
    seeds = [samples.make_psd(folder / "rle.psd", 320, 240),
             samples.make_psd(folder / "rle16.psd", 320, 240, depth=16),
             samples.make_psd(folder / "rle.psb", 320, 240, version=2)]
    noise = Image.effect_noise((320, 240), 60).convert("RGB")
    noise.save(folder / "idats.png", "PNG", compress_level=0)  # stored: several IDATs
    frames = [Image.new("RGB", (320, 240), colour) for colour in ("red", "blue")]
    frames[0].save(folder / "apng.png", "PNG", save_all=True, append_images=frames[1:])
    palette = noise.quantize(16)
    palette.save(folder / "trns.png", "PNG", transparency=0)
    return [*seeds, folder / "idats.png", folder / "apng.png", folder / "trns.png"]


def test_mutated_psd_rle_and_png_chunk_orders_each_get_a_verdict(tmp_path: Path) -> None:
    """Mutants of the seeds each get a verdict, and none that Pillow or ffmpeg refuses
    passes."""
    folder = tmp_path / "image-mutants"
    folder.mkdir()
    mutants = []
    for number, seed in enumerate(_image_seeds(tmp_path / "image-seeds")):
        data = seed.read_bytes()
        for copy in range(MUTANTS_PER_FILE):
            mutant = folder / f"{copy}-{seed.name}"
            mutant.write_bytes(mutate_media(data, random.Random(50_000 + number * 1000 + copy)))
            mutants.append(mutant)

    config = tmp_path / "config.yaml"  # small seeds: any size passes, only structure counts
    config.write_text(yaml.safe_dump({"policy": {"probe": PROBE, "photo": {
        "formats": ["PNG", "PSD"], "min_long_side": 1, "min_short_side": 1}}}),
        encoding="utf-8")

    result = cli("--config", str(config), "validate", "--json", "--jobs", "2", str(folder))

    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode in (0, 1), result.stderr[-3000:]
    verdicts = json.loads(result.stdout)
    assert all(set(verdict) == CONTRACT_KEYS for verdict in verdicts)
    assert {verdict["path"] for verdict in verdicts} == {str(mutant) for mutant in mutants}
    assert all(verdict["ok"] == (not verdict["reasons"]) for verdict in verdicts)
    # Never ok for what the independent tools refuse: Pillow for PNG and 8-bit PSD, ffmpeg
    # for 16-bit PSD (neither reads PSB).
    passed = [Path(verdict["path"]) for verdict in verdicts if verdict["ok"]]
    assert passed  # the mutants a mutation left readable
    for path in passed:
        if path.suffix == ".png" or path.name.endswith("-rle.psd"):
            assert pillow_loads(path), path
        elif path.name.endswith("-rle16.psd"):
            assert ffmpeg_decodes(path), path
