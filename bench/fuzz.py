"""Fuzz campaigns, run by hand: ``nice .venv/bin/python bench/fuzz.py [--count N] [--mails M]``.

Media: mutants of the validator's test corpus (tests/support/media_corpus.py) and of the tiny
seeds in tests/data/hostile/seeds/, made by zzuf (``zzuf -s SEED -r RATIO``) and by
tests/support/mutate.py, go through ``safetymonth validate --json`` in batches. Mail: mutants of
the sample messages (safetymonth/mailbox/samplemail.py) go through ``safetymonth poll --once``
on a Maildir.

It prints the inputs, the tracebacks, the hangs (files whose check overran the sandbox's
limits, and batches that never returned), the peak RSS of the CLI process and of its workers,
and the verdict distribution. The peer, on the same media mutants that reach MediaInfo, is the
``mediainfo`` CLI with the options safetymonth uses, under the same per-file time limit and a
4 GiB cap: how often it overruns, and how much memory it takes. Inputs with findings are kept
under bench/out/fuzz/findings/ (git ignores bench/out/).
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from safetymonth.config import PHOTO_FORMATS, VIDEO_FORMATS  # noqa: E402
from safetymonth.mailbox import samplemail  # noqa: E402
from safetymonth.storage.repository import Repository  # noqa: E402
from tests.support import guarded  # noqa: E402
from tests.support.guarded import Run  # noqa: E402
from tests.support.mailservers import drop  # noqa: E402
from tests.support.mutate import mutate_mail, mutate_media, sample_mail  # noqa: E402

OUT = ROOT / "bench" / "out" / "fuzz"
SEEDS = ROOT / "tests" / "data" / "hostile" / "seeds"
ZZUF_RATIOS = ("0.001", "0.004", "0.01")
OVERRUN = "超出时间或内存限制"  # the sentence of a verdict whose check the sandbox stopped
PEER_SUFFIXES = (".mp4", ".mov", ".avi", ".mpg", ".mts", ".ts", ".mkv", ".webm", ".heic",
                 ".flv")  # what the peer is given: videos and HEIC
GUARD_MEMORY = 8 * 1024**3  # address-space cap on each CLI run, so a regression cannot OOM
MiB = 1024 * 1024


@dataclass
class Tally:
    inputs: int = 0
    runs: int = 0
    tracebacks: int = 0
    hung_runs: int = 0
    bad_exits: collections.Counter = field(default_factory=collections.Counter)
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    overruns: int = 0
    seconds: float = 0.0
    parent_hwm: int = 0
    worker_hwm: int = 0
    maxrss: int = 0
    findings: list[str] = field(default_factory=list)

    def add(self, run: Run) -> None:
        self.runs += 1
        self.seconds += run.seconds
        self.parent_hwm = max(self.parent_hwm, run.parent_hwm)
        self.worker_hwm = max(self.worker_hwm, run.worker_hwm)
        self.maxrss = max(self.maxrss, run.peak_rss)
        self.tracebacks += run.stderr.count("Traceback (most recent call last)")
        if run.returncode is None:
            self.hung_runs += 1


def run_measured(args: list[str], wall: float) -> Run:
    OUT.mkdir(parents=True, exist_ok=True)
    return guarded.run_cli(args, OUT, wall, memory=GUARD_MEMORY, sample=True)


def config_file(folder: Path, args: argparse.Namespace, **sections: object) -> Path:
    """The probe limits of the run; with ``--formats every``, every format the validator
    names is allowed, so that a WebM or HEIC is judged on its content (by MediaInfo) rather
    than refused by its name."""
    policy: dict[str, object] = {"probe": {"timeout": args.timeout,
                                           "max_memory": args.max_memory}}
    if args.formats == "every":
        policy["photo"] = {"formats": list(PHOTO_FORMATS), "min_long_side": 1920,
                           "min_short_side": 1080}
        policy["video"] = {"formats": list(VIDEO_FORMATS), "min_long_side": 1280,
                           "min_short_side": 720}
    data: dict[str, object] = {"policy": policy}
    data.update(sections)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def media_originals() -> list[Path]:
    corpus = OUT / "corpus"
    if not (corpus / ".built").exists():
        shutil.rmtree(corpus, ignore_errors=True)
        corpus.mkdir(parents=True)
        # In a child: building it takes this process to ~300 MB, and Linux would then carry
        # that peak into every CLI child's ru_maxrss across fork and exec.
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                        "from tests.support import media_corpus; "
                        "media_corpus.build(Path(sys.argv[1]))",
                        str(corpus)], cwd=ROOT, check=True)
        (corpus / ".built").touch()
    files = [path for path in corpus.iterdir()
             if path.is_file() and path.name != ".built" and not path.name.startswith("full-")]
    return sorted(files)


def original_for(index: int, corpus: list[Path], seeds: list[Path]) -> Path:
    """Every other mutant comes from a tiny seed: those find the MediaInfo hangs."""
    return seeds[index // 2 % len(seeds)] if index % 2 else corpus[index // 2 % len(corpus)]


def make_media_mutant(original: Path, index: int, rng: random.Random, mutator: str) -> bytes:
    data = original.read_bytes()
    if mutator == "zzuf" or (mutator == "both" and index // 2 % 2):
        ratio = rng.choice(ZZUF_RATIOS)
        return subprocess.run(["zzuf", "-s", str(rng.getrandbits(31)), "-r", ratio],
                              input=data, capture_output=True, check=True).stdout
    return mutate_media(data, rng)


def keep(paths: list[Path], why: str, tally: Tally) -> None:
    target = OUT / "findings" / why
    target.mkdir(parents=True, exist_ok=True)
    for path in paths:
        shutil.copy(path, target / path.name)
        tally.findings.append(f"{why}/{path.name}")


def media_campaign(args: argparse.Namespace) -> tuple[Tally, list[Path]]:
    tally, for_peer = Tally(), []
    corpus, seeds = media_originals(), sorted(SEEDS.iterdir())
    rng = random.Random(args.seed)
    work = OUT / "media"
    config = config_file(OUT, args)
    for start in range(0, args.count, args.batch):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        batch = []
        for index in range(start, min(start + args.batch, args.count)):
            original = original_for(index, corpus, seeds)
            mutant = work / f"{index:05d}-{original.name}"
            mutant.write_bytes(make_media_mutant(original, index, rng, args.mutator))
            batch.append(mutant)
        tally.inputs += len(batch)
        wall = 60 + len(batch) * args.timeout  # a limit per file: the batch must end by then
        run = run_measured(["--config", str(config), "validate", "--json", "--jobs", "2",
                       str(work)], wall)
        tally.add(run)
        if run.returncode not in (0, 1):
            tally.bad_exits[run.returncode] += 1
            keep(batch, f"exit-{run.returncode}", tally)
            continue
        if "Traceback" in run.stderr:
            keep(batch, "traceback", tally)
            (OUT / "findings" / "traceback" / f"stderr-{start}.txt").write_text(run.stderr)
        overran = []
        for verdict in json.loads(run.stdout):
            codes = ",".join(reason["code"] for reason in verdict["reasons"]) or "ok"
            tally.outcomes[f"{verdict['kind']}:{codes}"] += 1
            if any(OVERRUN in reason["message"] for reason in verdict["reasons"]):
                overran.append(Path(verdict["path"].split("!", 1)[0]))
        tally.overruns += len(overran)
        keep(overran, "overrun", tally)
        kept = OUT / "peer"
        kept.mkdir(exist_ok=True)
        for mutant in batch:
            if mutant.suffix in PEER_SUFFIXES and len(for_peer) < args.peer:
                for_peer.append(Path(shutil.copy(mutant, kept / mutant.name)))
    return tally, for_peer


def mediainfo_peer(files: list[Path], timeout: float) -> dict[str, float]:
    """The mediainfo CLI per file, as safetymonth calls the library (parse_speed 0, the same
    options), each under ``timeout`` and a 4 GiB address-space cap."""
    runs = [guarded.run(["mediainfo", "--ParseSpeed=0", "--MpegTs_MaximumOffset=65536",
                         "--File_TestContinuousFileNames=0", str(path)], OUT, timeout,
                        memory=4 * guarded.GiB) for path in files]
    return {"files": len(files), "overruns": sum(run.returncode is None for run in runs),
            "maxrss": max(run.peak_rss for run in runs),
            "seconds": sum(run.seconds for run in runs)}


def compare(files: list[Path], args: argparse.Namespace) -> None:
    """Ours against the mediainfo CLI on the same mutants: the videos and HEIC stills."""
    config = config_file(OUT, args)
    ours = run_measured(["--config", str(config), "validate", "--json", "--jobs", "1",
                    *map(str, files)], 60 + len(files) * args.timeout)
    contained = sum(OVERRUN in reason["message"] for verdict in json.loads(ours.stdout or "[]")
                    for reason in verdict["reasons"])
    peer = mediainfo_peer(files, args.timeout)
    print(f"\n== the same {len(files)} mutants that are videos or HEIC")
    print(f"peer, the mediainfo CLI per file (safetymonth's options, {args.timeout:g} s and "
          f"4 GiB per file): {peer['overruns']} overran, peak RSS {peer['maxrss'] / MiB:.0f} "
          f"MiB, {peer['seconds']:.1f} s")
    print(f"ours, validate --json --jobs 1: {contained} overran (each one verdict), peak RSS "
          f"CLI {ours.parent_hwm / MiB:.0f} MiB, worker {ours.worker_hwm / MiB:.0f} MiB, "
          f"{ours.seconds:.1f} s; speed ratio {peer['seconds'] / max(ours.seconds, 1e-9):.2f}"
          f"x the peer")


def mail_campaign(args: argparse.Namespace) -> tuple[Tally, dict[str, int]]:
    tally = Tally()
    folder = OUT / "mail"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config = config_file(folder, args,
                         storage={"dir": "storage"},
                         mailbox={"source": "maildir:inbox", "outbox": "maildir:outbox",
                                  "max_tries": 1,
                                  # every message answered, so that every reply is measured
                                  "reply_rate_limit": {"count": 1_000_000, "hours": 1}})
    media = samplemail.make_media()
    rng = random.Random(args.seed)
    names = []
    for start in range(0, args.mails, args.batch):
        for index in range(start, min(start + args.batch, args.mails)):
            name = f"{index:05d}.eml"
            raw = sample_mail(media, index, f"bench-{args.seed}")
            drop(folder / "inbox", name, mutate_mail(raw, rng))
            names.append(name)
        tally.inputs = len(names)
        run = run_measured(["--config", str(config), "poll", "--once"], 600)
        tally.add(run)
        if run.returncode != 0:
            tally.bad_exits[run.returncode] += 1
        if "Traceback" in run.stderr:
            target = OUT / "findings" / "mail-traceback"
            target.mkdir(parents=True, exist_ok=True)
            (target / f"stderr-{start}.txt").write_text(run.stderr)
    with Repository(folder / "storage") as store:
        for name in names:
            row = store.message_for_key(f"maildir:{name}")
            if row is None:
                outcome = "not recorded"
            elif row.source_key != f"maildir:{name}":  # the same bytes or Message-ID
                outcome = f"duplicate of a {row.state} delivery"
            else:
                outcome = row.state
            tally.outcomes[outcome] += 1
    left = sorted(path.name for path in (folder / "inbox" / "new").iterdir())
    replies = list((folder / "outbox" / "new").iterdir())
    longest_line = max((len(line) for reply in replies for line in reply.read_bytes()
                        .split(b"\n")), default=0)
    extra = {"left in new/": len(left), "replies": len(replies),
             "largest reply (bytes)": max((reply.stat().st_size for reply in replies),
                                          default=0),
             "longest reply line (bytes)": longest_line}
    return tally, extra


def show(title: str, tally: Tally, extra: dict[str, object] | None = None) -> None:
    print(f"\n== {title}")
    print(f"inputs {tally.inputs} in {tally.runs} runs, {tally.seconds:.1f} s "
          f"({tally.inputs / max(tally.seconds, 1e-9):.1f} inputs/s)")
    print(f"tracebacks {tally.tracebacks}; runs that never returned {tally.hung_runs}; "
          f"exit codes other than allowed {dict(tally.bad_exits) or 0}")
    if tally.overruns or title.startswith("media"):
        print(f"files whose check overran the limits (hangs contained) {tally.overruns}")
    print(f"peak RSS: CLI process {tally.parent_hwm / MiB:.0f} MiB, a worker "
          f"{tally.worker_hwm / MiB:.0f} MiB, any process of the run (wait4) "
          f"{tally.maxrss / MiB:.0f} MiB")
    print("outcomes:")
    for outcome, count in tally.outcomes.most_common():
        print(f"  {count:6d}  {outcome}")
    for key, value in (extra or {}).items():
        print(f"{key}: {value}")
    if tally.findings:
        print(f"kept under {OUT / 'findings'}: {len(tally.findings)} inputs, e.g. "
              f"{', '.join(tally.findings[:5])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="media mutants")
    parser.add_argument("--mails", type=int, default=400, help="mail mutants")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3.0,
                        help="policy.probe.timeout: seconds per file")
    parser.add_argument("--max-memory", default="1 GiB", help="policy.probe.max_memory")
    parser.add_argument("--batch", type=int, default=250, help="inputs per CLI run")
    parser.add_argument("--mutator", choices=("builtin", "zzuf", "both"), default="both")
    parser.add_argument("--formats", choices=("every", "campaign"), default="every",
                        help="allow every format the validator names, or only the campaign's")
    parser.add_argument("--peer", type=int, default=300,
                        help="media mutants (videos, HEIC) also given to the mediainfo CLI")
    args = parser.parse_args()
    shutil.rmtree(OUT / "findings", ignore_errors=True)
    shutil.rmtree(OUT / "peer", ignore_errors=True)
    if args.count:
        media, for_peer = media_campaign(args)
        show("media through validate --json", media)
        if for_peer:
            compare(for_peer, args)
    if args.mails:
        mail, extra = mail_campaign(args)
        show("mail through poll --once", mail, extra)


if __name__ == "__main__":
    main()
