"""Benchmark of the validator, run by hand: ``.venv/bin/python bench/validate.py``.

It prints, in one run:
1. files per second on a corpus (``--corpus mixed``: mostly small photos, some videos and
   documents; ``--corpus photos``: the same with as many 12 MP camera JPEGs of 3-6 MB added)
   for our validator (``check_files`` over the corpus: one sandbox worker per core; and
   ``check_file`` one file at a time, one worker) against ``ffprobe`` per file, the
   ``mediainfo`` CLI per file and ``exiftool`` (one batch run, its fastest use), with the
   ratios; ``--throughput-only`` stops there;
2. our time on a ~1 GB MP4, MTS, AVI and MPG against a ~10 MB one of each, with the ratio;
3. the peak RSS of a process that validates all of it, and of its sandbox worker;
4. what the photo decode check costs: a 12 MP JPEG and a 1920×1080 PNG with
   ``policy.photo.decode`` ``scaled`` against ``off``, and a full Pillow load as the peer;
5. what the video frame decode costs per container: the 10 MB and 1 GB files of 2. with
   ``policy.video.decode`` ``frame`` (the default, used in 1.-3.) against ``off``.

The big files are made here (remuxed from the 10 MB ones, so it takes a minute, not an hour)
under bench/out/, which git ignores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageChops  # noqa: E402
from timing import laps  # noqa: E402

from safetymonth import samples  # noqa: E402
from safetymonth.config import PhotoRule, Policy, VideoRule  # noqa: E402
from safetymonth.validator import check_file, sandbox  # noqa: E402

try:  # the tree before issue 23 part 4 has no check_files: then one file at a time
    from safetymonth.validator import check_files
except ImportError:
    check_files = None

OUT = ROOT / "bench" / "out" / "validate"
TARGETS = {"ffprobe": 30.0, "mediainfo": 3.0}


def build_corpus(folder: Path, copies: int) -> list[Path]:
    """A mix like a month of mail: mostly photos, some videos and documents."""
    folder.mkdir(parents=True, exist_ok=True)
    originals = [
        samples.make_photo(folder / "a.jpg", 4032, 3024),
        samples.make_photo(folder / "b.jpg", 1280, 960),
        samples.make_photo(folder / "c.png", 2560, 1440, "PNG"),
        samples.make_psd(folder / "d.psd", 1920, 1080),
        samples.make_video(folder / "e.mp4", 1920, 1080, "mp4"),
        samples.make_video(folder / "f.mts", 1920, 1080, "mts"),
        samples.make_video(folder / "g.avi", 1280, 720, "avi"),
        samples.make_video(folder / "h.mpg", 1920, 1080, "mpg2"),
        samples.make_video(folder / "i.mov", 1920, 1080, "mov"),
        samples.make_docx(folder / "j.docx"),
    ]
    corpus = []
    for index in range(copies):
        for original in originals:
            copy = folder / f"{index:03d}-{original.name}"
            shutil.copy(original, copy)
            corpus.append(copy)
    return corpus


def build_photo_corpus(folder: Path, copies: int) -> list[Path]:
    """The mixed corpus with a 12 MP camera JPEG after each of its files: half the files are
    photos as phones and cameras write them (4032×3024 and 4000×3000, EXIF, 3-6 MB)."""
    mixed = build_corpus(folder, copies)
    cameras = [camera_jpeg(folder / "cam-4032.jpg", 4032, 3024, noise=30),
               camera_jpeg(folder / "cam-4000.jpg", 4000, 3000, noise=20)]
    corpus = []
    for index, path in enumerate(mixed):
        copy = folder / f"{index:04d}-{cameras[index % 2].name}"
        shutil.copy(cameras[index % 2], copy)
        corpus += [path, copy]
    return corpus


def camera_jpeg(path: Path, width: int, height: int, noise: int) -> Path:
    """A photo that compresses like a camera's: three gradients under sensor-like noise of
    strength ``noise``, saved at quality 90 with make, model and orientation in EXIF."""
    grain = Image.effect_noise((width, height), noise).convert("RGB")
    gradients = Image.merge("RGB", [
        Image.linear_gradient("L").resize((width, height)),
        Image.linear_gradient("L").rotate(90).resize((width, height)),
        Image.radial_gradient("L").resize((width, height))])
    toned = ImageChops.multiply(gradients, Image.new("RGB", (width, height), (200, 200, 200)))
    picture = ImageChops.add(toned, grain, scale=1.6, offset=-40)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "EOS 80D", 1
    picture.save(path, quality=90, exif=exif.tobytes())
    return path


def time_ours(files: list[Path], policy: Policy,
              label: str = "safetymonth, one at a time") -> float:
    """``check_file`` one file at a time (one sandbox worker)."""
    for path in files[:10]:  # warm the library and the page cache alike for every tool
        check_file(path, policy)
    with counting_cpu(label, len(files)):
        start = time.perf_counter()
        for path in files:
            check_file(path, policy)
        return time.perf_counter() - start


def time_ours_together(files: list[Path], policy: Policy) -> float:
    """``check_files`` over the whole corpus (a sandbox worker per core), workers warm."""
    if check_files is None:
        return time_ours(files, policy, "safetymonth")
    check_files(files[:10], policy)
    with counting_cpu("safetymonth", len(files)):
        start = time.perf_counter()
        check_files(files, policy)
        return time.perf_counter() - start


def time_per_file(command: list[str], files: list[Path]) -> float:
    with counting_cpu(Path(command[0]).name, len(files)):
        start = time.perf_counter()
        for path in files:
            subprocess.run([*command, str(path)], capture_output=True, check=False)
        return time.perf_counter() - start


# CPU milliseconds per file (user + system, of this process, its sandbox workers and the
# peers' processes): what the wall-clock rates mean on a machine other sessions load.
CPU_MS: dict[str, float] = {}


@contextmanager
def counting_cpu(tool: str, count: int) -> Iterator[None]:
    before = _cpu_seconds()
    yield
    after = _cpu_seconds()
    CPU_MS[tool] = sum(after.values()) - sum(before.get(key, 0.0) for key in after)
    CPU_MS[tool] *= 1e3 / count


def _cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of this process, of its finished children and of each live
    sandbox worker (by pid: a worker started meanwhile counts from zero)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    seconds = {"self": own.ru_utime + own.ru_stime,
               "children": children.ru_utime + children.ru_stime}
    pool = sandbox.current_pool()
    for pid in pool.pids() if pool else []:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[str(pid)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def time_batch(command: list[str], files: list[Path]) -> float:
    start = time.perf_counter()
    subprocess.run([*command, *map(str, files)], capture_output=True, check=False)
    return time.perf_counter() - start


def throughput(files: list[Path], policy: Policy) -> dict[str, float]:
    rates = {"safetymonth": len(files) / time_ours_together(files, policy),
             "safetymonth, one at a time": len(files) / time_ours(files, policy)}
    rates["ffprobe"] = len(files) / time_per_file(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json"], files)
    rates["mediainfo"] = len(files) / time_per_file(["mediainfo", "--Output=JSON"], files)
    rates["exiftool (one batch)"] = len(files) / time_batch(
        ["exiftool", "-fast", "-j", "-ImageSize", "-FileType"], files)
    return rates


# Video codec, audio codec and muxer per container, as cameras and phones write them.
SMALL_RECIPES = {
    "mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-c:a", "aac", "-f", "mp4"],
    "mts": ["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-c:a", "ac3",
            "-f", "mpegts", "-mpegts_m2ts_mode", "1"],
    "avi": ["-c:v", "mpeg4", "-q:v", "2", "-c:a", "libmp3lame", "-f", "avi"],
    "mpg": ["-c:v", "mpeg2video", "-q:v", "2", "-c:a", "mp2", "-f", "vob"],
}


def make_pair(folder: Path, name: str, big_bytes: int) -> tuple[Path, Path]:
    """A ~10 MB 1080p file with sound, and a ~1 GB one remuxed from it by looping it."""
    small, big = folder / f"small.{name}", folder / f"big.{name}"
    recipe = SMALL_RECIPES[name]
    muxer = recipe[recipe.index("-f"):]
    if not small.exists():
        _ffmpeg(["-f", "lavfi", "-i", "testsrc=size=1920x1080:rate=25:duration=60",
                 "-f", "lavfi", "-i", "sine=frequency=440:duration=60", *recipe,
                 "-fs", "10M", str(small)])
    if not big.exists():
        loops = max(1, big_bytes // small.stat().st_size)
        _ffmpeg(["-stream_loop", str(loops - 1), "-i", str(small), "-c", "copy", *muxer,
                 str(big)])
    return small, big


def _ffmpeg(arguments: list[str]) -> None:
    # The MPEG-PS muxer complains loudly about buffer sizes on remux; the files are fine.
    subprocess.run(["ffmpeg", "-v", "error", "-y", *arguments], check=True, capture_output=True)


def median_time(path: Path, policy: Policy, runs: int = 7) -> float:
    check_file(path, policy)
    return _median(lambda: check_file(path, policy), runs)


def peak_rss(files: list[Path]) -> tuple[float, float]:
    """Peak RSS in MB of a fresh process that validates every file given, and of its sandbox
    worker.

    VmHWM, not ru_maxrss: Linux carries the parent's peak across fork and exec into
    ru_maxrss, which would report this benchmark's own size."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from safetymonth.config import Policy\n"
        "from safetymonth.validator import check_file, sandbox\n"
        "policy = Policy()\n"
        "for name in sys.argv[1:]:\n"
        "    check_file(Path(name), policy)\n"
        "def hwm(pid):\n"
        "    status = open(f'/proc/{pid}/status').read()\n"
        "    return next(l.split()[1] for l in status.splitlines() if l.startswith('VmHWM'))\n"
        "workers = sandbox.current_pool().pids()\n"
        "print(hwm('self'), max(int(hwm(pid)) for pid in workers))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, *map(str, files)], check=True,
                            capture_output=True, text=True, cwd=ROOT)
    parent, worker = result.stdout.split()
    return int(parent) / 1024, int(worker) / 1024


def decode_cost(folder: Path) -> dict[str, dict[str, float]]:
    """Median ms per check of a 12 MP camera-like JPEG (baseline, as cameras and phones
    write it, and progressive, as some editors export it) and a 1920×1080 PNG; noisy
    content, so they compress like photos do, not like flat test images."""
    folder.mkdir(parents=True, exist_ok=True)
    picture = Image.effect_noise((4032, 3024), 24).convert("RGB")
    jpeg, progressive, png = (folder / "12mp.jpg", folder / "12mp-progressive.jpg",
                              folder / "1080p.png")
    picture.save(jpeg, quality=92)
    picture.save(progressive, quality=92, progressive=True)
    picture.crop((0, 0, 1920, 1080)).save(png)
    rules = {mode: Policy(photo=PhotoRule(formats=["JPEG", "PNG", "PSD"], min_long_side=1920,
                                          min_short_side=1080, decode=mode))
             for mode in ("scaled", "off")}
    costs = {}
    for path in (jpeg, progressive, png):
        row = {mode: median_time(path, policy) * 1e3 for mode, policy in rules.items()}
        row["pillow full load"] = _median(lambda path=path: _pillow_load(path)) * 1e3
        row["MB"] = path.stat().st_size / 1e6
        costs[path.name] = row
    return costs


def video_decode_cost(files: list[Path]) -> dict[str, dict[str, float]]:
    """Median ms per check of each file with the first keyframe decoded and without."""
    rules = {mode: Policy(video=VideoRule(formats=["MP4", "MPG2", "AVI", "MTS"],
                                          min_long_side=1280, min_short_side=720,
                                          decode=mode))
             for mode in ("frame", "off")}
    return {path.name: {mode: median_time(path, policy) * 1e3
                        for mode, policy in rules.items()} for path in files}


def _pillow_load(path: Path) -> None:
    with Image.open(path) as image:
        image.load()


def _median(action: Callable[[], object], runs: int = 7) -> float:
    return statistics.median(laps(action, runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20, help="corpus = 10 files x copies")
    parser.add_argument("--big-mb", type=int, default=1024, help="size of the big files")
    parser.add_argument("--corpus", choices=("mixed", "photos"), default="mixed",
                        help="photos: half the files 12 MP camera JPEGs of 3-6 MB")
    parser.add_argument("--throughput-only", action="store_true", help="section 1 alone")
    args = parser.parse_args()
    policy = Policy()
    OUT.mkdir(parents=True, exist_ok=True)
    corpus_dir = OUT / "corpus"
    shutil.rmtree(corpus_dir, ignore_errors=True)
    build = build_photo_corpus if args.corpus == "photos" else build_corpus
    files = build(corpus_dir, args.copies)

    print(f"1. {args.corpus.capitalize()} corpus: {len(files)} files, "
          f"{sum(path.stat().st_size for path in files) / 1e6:.0f} MB")
    rates = throughput(files, policy)
    ours = rates["safetymonth"]
    for tool, rate in rates.items():
        ratio = ours / rate
        target = TARGETS.get(tool)
        verdict = ""
        if target is not None:
            verdict = f" (target ≥{target:.0f}×: {'met' if ratio >= target else 'MISSED'})"
        cpu = f"{CPU_MS[tool]:7.1f} ms CPU/file" if tool in CPU_MS else " " * 18
        print(f"   {tool:26s} {rate:8.1f} files/s {cpu}   ours is {ratio:6.1f}×{verdict}")
    ours_cpu = CPU_MS["safetymonth"]
    print(f"   in CPU time: ffprobe {CPU_MS['ffprobe'] / ours_cpu:.1f}× ours, "
          f"mediainfo {CPU_MS['mediainfo'] / ours_cpu:.1f}× ours")
    if args.throughput_only:
        print(json.dumps({"files_per_second": rates, "cpu_ms_per_file": CPU_MS},
                         ensure_ascii=False))
        return

    print(f"2. File size: ~{args.big_mb} MB against ~10 MB (median of 7, warm cache)")
    results = {}
    for name in SMALL_RECIPES:
        small, big = make_pair(OUT, name, args.big_mb * 1024 * 1024)
        small_time, big_time = median_time(small, policy), median_time(big, policy)
        results[name] = big_time / small_time
        status = "met" if results[name] <= 2 else "MISSED"
        print(f"   {name.upper():4s} {small.stat().st_size / 1e6:7.1f} MB "
              f"{small_time * 1e3:6.2f} ms   {big.stat().st_size / 1e6:7.1f} MB "
              f"{big_time * 1e3:6.2f} ms"
              f"   ratio {results[name]:4.2f} (target ≤2: {status})")

    bigs = sorted(OUT.glob("big.*")) + sorted(OUT.glob("small.*"))
    rss, worker_rss = peak_rss(files + bigs)
    print(f"3. Peak RSS validating all {len(files) + len(bigs)} files: {rss:.1f} MB "
          f"(target ≤100 MB: {'met' if rss <= 100 else 'MISSED'}); its sandbox worker "
          f"{worker_rss:.1f} MB")

    print("4. Photo decode check, median ms per file (decode: scaled / off; Pillow full load)")
    costs = decode_cost(OUT / "decode")
    for name, row in costs.items():
        print(f"   {name:20s} {row['MB']:5.1f} MB   scaled {row['scaled']:6.1f}   off "
              f"{row['off']:5.2f}   Pillow full load {row['pillow full load']:6.1f}")

    print("5. Video frame decode, median ms per file (decode: frame / off)")
    video_costs = video_decode_cost(sorted(OUT.glob("small.*")) + sorted(OUT.glob("big.*")))
    for name, row in video_costs.items():
        print(f"   {name:10s} frame {row['frame']:6.2f}   off {row['off']:6.2f}")
    print(json.dumps({"files_per_second": rates, "cpu_ms_per_file": CPU_MS,
                      "big_small_ratio": results,
                      "peak_rss_mb": rss, "worker_peak_rss_mb": worker_rss,
                      "decode_ms": costs, "video_decode_ms": video_costs},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
