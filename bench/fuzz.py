"""Fuzz campaigns, run by hand: ``nice .venv/bin/python bench/fuzz.py [--count N] [--mails M]``.

Media: seeds of every kind the validator judges are made at run time by ffmpeg and Pillow
(``make_seeds``: a second or less of video, small pictures, so that a campaign of thousands of
mutants stays affordable on two busy cores), with the tiny seeds of tests/data/hostile/seeds/
(``--corpus`` adds the 1080p test corpus of tests/support/media_corpus.py). zzuf mutates them
(``zzuf -s SEED -r RATIO``; ``--mutator`` also offers tests/support/mutate.py) and the mutants go
through ``safetymonth validate --json`` in batches. Each mutant's verdict is compared with an
expert's: for a video, ``ffmpeg -v error -xerror -threads 1 -skip_frame:v nokey -i F -map 0:v:0
-frames:v 1 -f null -`` (the first keyframe decoded, the judgement the validator makes) and,
with ``--whole``, the whole file decoded (``-threads 1 -i F -map 0:v:0 -f null -``); for a
photo, a full Pillow load (FFmpeg's decode for a PSD). Mail:
mutants of the sample messages (safetymonth/mailbox/samplemail.py) go through ``safetymonth
poll --once`` on a Maildir.

It prints the inputs, the tracebacks, the hangs (files whose check overran the sandbox's
limits, and batches that never returned), the peak RSS of the CLI process and of its workers,
the verdict distribution and the disagreements with the expert in both directions. With
``--peer N``, N video and HEIC mutants also go to the ``mediainfo`` CLI with the options
safetymonth uses, under the same per-file time limit and a 4 GiB cap. Inputs with findings
are kept under bench/out/fuzz/findings/ (git ignores bench/out/).
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import random
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from safetymonth import samples  # noqa: E402
from safetymonth.config import known_formats  # noqa: E402
from safetymonth.mailbox import samplemail  # noqa: E402
from safetymonth.storage.repository import Repository  # noqa: E402
from tests.support import guarded  # noqa: E402
from tests.support.guarded import Run  # noqa: E402
from tests.support.mailservers import drop  # noqa: E402
from tests.support.media_corpus import pillow_loads  # noqa: E402
from tests.support.mutate import mutate_mail, mutate_media, sample_mail  # noqa: E402

OUT = ROOT / "bench" / "out" / "fuzz"
SEEDS = ROOT / "tests" / "data" / "hostile" / "seeds"
# zzuf flips this share of the bits: on a 10 KB seed, from about 2 bits to 160. The hostile
# corpus was found at 0.001-0.01, where nearly every mutant is refused by everyone.
ZZUF_RATIOS = ("0.00003", "0.0001", "0.0004", "0.002")
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
    # (kind and scope, ours accepts, the expert decodes (None: overran)): inputs
    expert: collections.Counter = field(default_factory=collections.Counter)

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
        policy["photo"] = {"formats": list(known_formats("photo")), "min_long_side": 1920,
                           "min_short_side": 1080}
        policy["video"] = {"formats": list(known_formats("video")), "min_long_side": 1280,
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


LAVFI = ["-f", "lavfi", "-i", "testsrc2=s=96x64:d=0.4:r=25"]  # 10 frames: small and quick
SEED_VIDEOS: dict[str, list[str]] = {
    "h264.mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "faststart.mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                      "-movflags", "+faststart"],
    "fragmented.mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                       "-g", "2", "-movflags", "+frag_keyframe+empty_moov"],
    "hevc.mp4": ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
                 "-pix_fmt", "yuv420p", "-tag:v", "hvc1"],
    "high10.mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le"],
    "bframes.mov": ["-c:v", "libx264", "-preset", "fast", "-bf", "2", "-pix_fmt", "yuv420p"],
    "mpeg4.mp4": ["-c:v", "mpeg4", "-q:v", "5"],
    "mjpeg.avi": ["-c:v", "mjpeg", "-q:v", "5"],
    "h264.avi": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "mpeg4.avi": ["-c:v", "mpeg4", "-q:v", "5"],
    "mpeg2.mpg": ["-c:v", "mpeg2video", "-q:v", "5", "-f", "vob"],
    "mpeg1.mpg": ["-c:v", "mpeg1video", "-q:v", "5", "-f", "mpeg"],
    "h264.mts": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                 "-f", "mpegts", "-mpegts_m2ts_mode", "1"],
    "mpeg2.ts": ["-c:v", "mpeg2video", "-q:v", "5", "-f", "mpegts"],
}
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mpg", ".mts", ".ts", ".m2ts", ".mkv", ".webm",
                  ".flv"}
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}  # Pillow's full load is the expert
# Pillow reads neither 16-bit PSD nor PSB: FFmpeg's PSD decoder (8 and 16 bits, RGB and CMYK)
# is the expert for PSD; PSB has none here (no mutant of it is compared).
FFMPEG_PHOTO_SUFFIXES = {".psd"}
EXPERTS = 4  # expert runs at a time: each ffmpeg is mostly start-up, waiting on busy cores


def make_seeds(folder: Path) -> list[Path]:
    """Small valid files of every kind the validator judges (each one checked by the expert
    before use, so that a disagreement is the mutation's)."""
    if not (folder / ".built").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, options in SEED_VIDEOS.items():
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *LAVFI, *options,
                            str(folder / name)], check=True)
        avi = (folder / "h264.avi").read_bytes()  # no idx1: an unindexed AVI, as cut files are
        (folder / "unindexed.avi").write_bytes(avi.replace(b"idx1", b"JUNK"))
        _make_photos(folder)
        _make_zips(folder)
        (folder / ".built").touch()
    seeds = sorted(path for path in folder.iterdir() if path.name != ".built")
    refused = [path.name for path in seeds if expert(path) not in (None, (True, True))]
    if refused:
        raise SystemExit(f"seeds the expert refuses: {refused}")
    return seeds


def _make_photos(folder: Path) -> None:
    picture = Image.radial_gradient("L").resize((160, 120)).convert("RGB")
    noisy = Image.merge("RGB", [Image.effect_noise((160, 120), 50)] * 3)
    picture = Image.blend(picture, noisy, 0.3)
    picture.save(folder / "baseline.jpg", quality=85)
    picture.save(folder / "progressive.jpg", quality=85, progressive=True)
    picture.convert("CMYK").save(folder / "cmyk.jpg", quality=85)
    picture.save(folder / "rgb.png")
    picture.convert("L").point(lambda v: v * 250).convert("I;16").save(folder / "grey16.png")
    frames = [picture, picture.rotate(90), picture.rotate(180)]
    frames[0].save(folder / "apng.png", save_all=True, append_images=frames[1:], duration=100)
    _adam7_png(folder / "interlaced.png", 97, 61)
    samples.make_psd(folder / "rgb8.psd", 120, 80)
    samples.make_psd(folder / "rgb16.psd", 120, 80, depth=16)
    samples.make_psd(folder / "rgb8.psb", 120, 80, version=2)
    _cmyk_psd(folder / "cmyk.psd", 120, 80)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _adam7_png(path: Path, width: int, height: int) -> None:
    """An interlaced (Adam7) RGB PNG: Pillow reads these but cannot write them."""
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
              (1, 0, 2, 2), (0, 1, 1, 2))
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        columns = range(x0, width, dx)
        if not columns:
            continue
        for y in range(y0, height, dy):
            raw.append(0)  # filter: none
            for x in columns:
                raw += bytes((x * 7 & 255, y * 5 & 255, (x ^ y) & 255))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"IDAT", zlib.compress(bytes(raw))) + _png_chunk(b"IEND", b""))


def _cmyk_psd(path: Path, width: int, height: int) -> None:
    """A CMYK Photoshop file (colour mode 4, four channels), raw data."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 4, height, width, 8, 4)
    planes = b"".join(bytes([value]) * (width * height) for value in (30, 90, 150, 10))
    path.write_bytes(header + struct.pack(">IIIH", 0, 0, 0, 0) + planes)


def _make_zips(folder: Path) -> None:
    """A zip inside a zip, and a ZIP64 one (its members carry ZIP64 extra fields)."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.write(folder / "baseline.jpg", "照片/baseline.jpg")
        archive.write(folder / "h264.mp4", "视频/h264.mp4")
    with zipfile.ZipFile(folder / "nested.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner.zip", inner.getvalue())
        archive.write(folder / "rgb.png", "rgb.png")
    with zipfile.ZipFile(folder / "zip64.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("baseline.jpg", "mjpeg.avi"):
            with archive.open(name, "w", force_zip64=True) as member:
                member.write((folder / name).read_bytes())



def expert(path: Path, timeout: float = 20.0,
           whole: bool = False) -> tuple[bool | None, bool | None] | None:
    """The expert's verdicts (first frame, and with ``whole`` the whole file): True decodes,
    False refuses, None overran ``timeout``; for a photo both are Pillow's full load (FFmpeg's
    for a PSD); None for other kinds."""
    if path.suffix.lower() in PHOTO_SUFFIXES:
        result = pillow_loads(path)
        return result, result
    if path.suffix.lower() not in VIDEO_SUFFIXES | FFMPEG_PHOTO_SUFFIXES:
        return None
    head = ["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-threads", "1"]
    tail = ["-i", str(path), "-map", "0:v:0", "-f", "null", "-"]
    # The first keyframe alone, as the validator decodes it: with frame threads, or without
    # skipping the frames after it, ffmpeg decodes the next few frames before it outputs one.
    first = _runs([*head, "-skip_frame:v", "nokey", *tail[:-3], "-frames:v", "1", *tail[-3:]],
                  timeout)
    command = [*head, *tail]
    return first, (_runs(command, timeout) if whole else True)


def _runs(command: list[str], timeout: float) -> bool | None:
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return done.returncode == 0


def originals(args: argparse.Namespace) -> list[Path]:
    """The seeds made here, the hostile corpus's tiny seeds, and with ``--corpus`` the test
    corpus (1080p files: slower to mutate, validate and decode)."""
    files = make_seeds(OUT / "seeds") + sorted(SEEDS.iterdir())
    files += media_originals() if args.corpus else []
    only = {suffix for suffix in args.only.split(",") if suffix}
    return [path for path in files if not only or path.suffix in only]


def make_media_mutant(original: Path, index: int, rng: random.Random, mutator: str) -> bytes:
    data = original.read_bytes()
    if mutator == "zzuf" or (mutator == "both" and index % 2):
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


def ours_accepts(verdict: dict) -> bool:
    """Whether we judged the file whole: no reason but a size below the campaign's minimum
    (the seeds are small on purpose)."""
    return all(reason["code"] == "resolution_too_low" for reason in verdict["reasons"])


def judge(batch: list[Path], verdicts: dict[str, dict], tally: Tally, whole: bool) -> None:
    """Each mutant's verdict against the expert's, both cores busy with the expert."""
    with ThreadPoolExecutor(EXPERTS) as pool:
        answers = list(pool.map(lambda path: expert(path, whole=whole), batch))
    for mutant, answer in zip(batch, answers, strict=True):
        verdict = verdicts.get(str(mutant))
        if answer is None or verdict is None:
            continue
        ours = ours_accepts(verdict)
        kind = "video" if mutant.suffix.lower() in VIDEO_SUFFIXES else "photo"
        if mutant.suffix.lower() in FFMPEG_PHOTO_SUFFIXES:
            kind = "PSD"
        for scope, theirs in zip(("first frame", "whole file"), answer, strict=True):
            if scope == "whole file" and (kind != "video" or not whole):
                continue
            tally.expert[f"{kind} ({scope})", ours, theirs] += 1
            if theirs is None:
                keep([mutant], f"expert-hang-{kind}", tally)
            elif ours and not theirs and scope == "first frame":
                keep([mutant], f"we-ok-expert-refuses-{kind}", tally)
            elif not ours and theirs and scope == "first frame":
                codes = ",".join(reason["code"] for reason in verdict["reasons"])
                keep([mutant], f"we-refuse-expert-decodes-{kind}-{codes}", tally)


def media_campaign(args: argparse.Namespace) -> tuple[Tally, list[Path]]:
    tally, for_peer = Tally(), []
    sources = originals(args)
    rng = random.Random(args.seed)
    work = OUT / "media"
    config = config_file(OUT, args)
    for start in range(0, args.count, args.batch):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        batch = []
        for index in range(start, min(start + args.batch, args.count)):
            original = sources[index % len(sources)]
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
        overran, verdicts = [], {}
        for verdict in json.loads(run.stdout):
            codes = ",".join(reason["code"] for reason in verdict["reasons"]) or "ok"
            tally.outcomes[f"{verdict['kind']}:{codes}"] += 1
            if any(OVERRUN in reason["message"] for reason in verdict["reasons"]):
                overran.append(Path(verdict["path"].split("!", 1)[0]))
            if "!" not in verdict["path"]:
                verdicts[verdict["path"]] = verdict
        tally.overruns += len(overran)
        keep(overran, "overrun", tally)
        if args.expert:
            judge(batch, verdicts, tally, args.whole)
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
    show_expert(tally)
    for key, value in (extra or {}).items():
        print(f"{key}: {value}")
    if tally.findings:
        print(f"kept under {OUT / 'findings'}: {len(tally.findings)} inputs, e.g. "
              f"{', '.join(tally.findings[:5])}")


def show_expert(tally: Tally) -> None:
    if not tally.expert:
        return
    print("against the expert (ffmpeg -xerror for videos, a full Pillow load for photos):")
    scopes = sorted({key[0] for key in tally.expert})
    for scope in scopes:
        count = {(ours, theirs): n for (kind, ours, theirs), n in tally.expert.items()
                 if kind == scope}
        print(f"  {scope}: both accept {count.get((True, True), 0)}, both refuse "
              f"{count.get((False, False), 0)}, WE OK / EXPERT REFUSES "
              f"{count.get((True, False), 0)}, we refuse / expert decodes "
              f"{count.get((False, True), 0)}, expert overran "
              f"{sum(n for (ours, theirs), n in count.items() if theirs is None)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000, help="media mutants")
    parser.add_argument("--mails", type=int, default=300, help="mail mutants")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3.0,
                        help="policy.probe.timeout: seconds per file")
    parser.add_argument("--max-memory", default="1 GiB", help="policy.probe.max_memory")
    parser.add_argument("--batch", type=int, default=250, help="inputs per CLI run")
    parser.add_argument("--mutator", choices=("builtin", "zzuf", "both"), default="zzuf")
    parser.add_argument("--formats", choices=("every", "campaign"), default="every",
                        help="allow every format the validator names, or only the campaign's")
    parser.add_argument("--corpus", action="store_true",
                        help="also mutate the 1080p test corpus (tests/support/media_corpus.py)")
    parser.add_argument("--no-expert", dest="expert", action="store_false",
                        help="skip the comparison with ffmpeg and Pillow")
    parser.add_argument("--whole", action="store_true",
                        help="also decode each video mutant whole (a second ffmpeg run)")
    parser.add_argument("--only", default="",
                        help="mutate only the originals with these suffixes (.mpg,.mts,.ts)")
    parser.add_argument("--peer", type=int, default=0,
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
