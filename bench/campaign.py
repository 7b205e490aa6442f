"""Benchmark: the campaign end to end, this tree against a release, step by step.

    .venv/bin/python bench/campaign.py [--units 100] [--mails 300] [--runs 1] [--imap]
        [--release ef824d8] [--wheelhouse build/wheelhouse] [--py-spy DIR]

The county (the defaults): 1 notice with its PDF, 100 responsibility letters, 300 mails
carrying 1,003 files (photos, videos, documents; some failing, some sent twice) taken in by
one ``poll --once`` that also sends every reply (to a Maildir outbox), the report, and the
summary with its intake table and PDF. The province is ``--units 2000 --mails 6000`` (about
20,000 files). Each step is the ``safetymonth`` command as a user runs it, a process of its own
(start-up included), timed by its wall clock. The peer: the same steps on the same inputs with
the release ``--release`` (``git archive`` into ``bench/out/``, installed offline into a venv
of its own from ``--wheelhouse``, the wheels ``make dist`` gathers). Goals: county <= 6 s,
province < 30 s, on a 2-core machine.

The mail is a Maildir by default; ``--imap`` puts it in a Dovecot of its own
(``tests/support/mailservers.py``) instead. ``--py-spy DIR`` records each of this tree's steps
with py-spy (``--subprocesses``, raw collapsed stacks) into DIR.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from safetymonth import samples  # noqa: E402
from safetymonth.mailbox import samplemail  # noqa: E402

OUT = REPO / "bench" / "out" / "campaign"
PASSWORD_ENV = "SAFETYMONTH_BENCH_IMAP_PASSWORD"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
STEPS = ("notice", "letters", "poll", "report", "summary")


# --- the inputs --------------------------------------------------------------------------


@dataclass
class Media:
    """The real files every mail's attachments are made from (samplemail's, plus a video
    below the minimum and a text file named .jpg for the failures)."""

    base: samplemail.Media
    small_video: bytes
    fake_photo: bytes = "这不是照片".encode() * 50


def make_media(folder: Path) -> Media:
    folder.mkdir(parents=True, exist_ok=True)
    small = samples.make_video(folder / "small.mp4", 640, 360, seconds=0.4).read_bytes()
    return Media(samplemail.make_media(folder), small)


def unique_jpeg(photo: bytes, index: int) -> bytes:
    """A distinct, still valid JPEG: a COM segment holding ``index`` right after SOI."""
    payload = f"bench {index}".encode()
    return photo[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + photo[2:]


def unique_mp4(video: bytes, index: int) -> bytes:
    """A distinct, still valid MP4: a top-level ``free`` box holding ``index`` at the end."""
    payload = f"bench {index}".encode()
    return video + (len(payload) + 8).to_bytes(4, "big") + b"free" + payload


def unique_docx(document: bytes, index: int) -> bytes:
    """A distinct, still valid .docx: the zip's end record carries ``index`` as its comment
    (samples.make_docx writes none, so the end record is the last 22 bytes)."""
    comment = f"bench {index}".encode()
    assert document[-22:-18] == b"PK\x05\x06" and document[-2:] == b"\0\0"
    return document[:-2] + len(comment).to_bytes(2, "little") + comment


@dataclass
class Mail:
    """One mail's attachments as (name, bytes, content type)."""

    files: list[tuple[str, bytes, str]] = field(default_factory=list)


def attachments(index: int, media: Media) -> Mail:
    """Mail ``index``'s files: a summary, a video and a photo; a second photo in every third
    mail and a PDF in every hundredth (300 mails: 1,003 files). Every tenth photo is too
    small, every 25th video too, every 50th "photo" is text; every 20th mail sends the files
    of the mail before it again (the same bytes)."""
    if index % 20 == 19:
        index -= 1
    base = media.base
    photo = base.small_photo if index % 10 == 3 else base.photo
    if index % 50 == 11:
        photo = media.fake_photo + index.to_bytes(4, "big")
    video = media.small_video if index % 25 == 5 else base.video
    mail = Mail([(f"活动总结{index}.docx", unique_docx(base.document, index), DOCX),
                 (f"演练视频{index}.mp4", unique_mp4(video, index), "video/mp4"),
                 (f"照片{index}.jpg", photo if photo is media.fake_photo
                  else unique_jpeg(photo, 2 * index), "image/jpeg")])
    if index % 3 == 0:
        mail.files.append((f"照片{index}-2.jpg", unique_jpeg(base.photo, 2 * index + 1),
                           "image/jpeg"))
    if index % 100 == 1:
        mail.files.append((f"总结{index}.pdf", base.pdf + f"\n% {index}\n".encode(),
                           "application/pdf"))
    return mail


def unit_address(number: int) -> str:
    return f"unit{number:04d}@county.example.cn"


def unit_name(number: int) -> str:
    return f"德化县第{number:04d}民政服务机构"


def write_mails(folder: Path, units: int, mails: int, media: Media) -> int:
    """The mails as .eml files in ``folder``; returns how many files they carry."""
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for index in range(mails):
        mail = attachments(index, media)
        body = f"您好：\r\n附件是我单位活动材料（第{index}封），请查收。\r\n"
        parts = [samplemail.text_part(body)]
        parts += [samplemail.file_part(data, samplemail.utf8_name(name), kind)
                  for name, data, kind in mail.files]
        raw = samplemail.message(unit_address(index % units), f"安全管理月活动材料{index}", parts,
                                 message_id=f"<campaign-{index}@county.example.cn>")
        (folder / f"{index:05d}.eml").write_bytes(raw)
        total += len(mail.files)
    return total


def write_data(folder: Path, units: int) -> None:
    """The config's units and the documents' data, shared by both versions (their config
    and data formats agree on every key used here)."""
    roster = [{"name": unit_name(n), "emails": [unit_address(n)]} for n in range(units)]
    (folder / "units.yaml").write_text(yaml.safe_dump(roster, allow_unicode=True), "utf-8")
    shutil.copy(REPO / "examples" / "notice-dehua-2024.yaml", folder / "notice.yaml")
    shutil.copy(REPO / "examples" / "summary-2024.yaml", folder / "summary.yaml")
    letters = yaml.safe_load((REPO / "examples" / "letters-2024.yaml").read_text("utf-8"))
    categories = ("养老机构", "儿童福利机构", "救助管理机构", "殡葬服务机构")
    letters["units"] = [{"name": unit_name(n), "category": categories[n % 4], "head": "林某某"}
                        for n in range(units)]
    (folder / "letters.yaml").write_text(yaml.safe_dump(letters, allow_unicode=True), "utf-8")


def make_inputs(units: int, mails: int) -> tuple[Path, int]:
    """The inputs under bench/out/campaign/inputs-U-M, made once and reused."""
    folder = OUT / f"inputs-{units}-{mails}"
    done = folder / "files.txt"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        started = time.perf_counter()
        media = make_media(folder / "media")
        files = write_mails(folder / "mails", units, mails, media)
        write_data(folder, units)
        done.write_text(str(files))
        print(f"inputs made in {time.perf_counter() - started:.1f} s")
    return folder, int(done.read_text())


# --- the versions ------------------------------------------------------------------------


@dataclass
class Version:
    """A safetymonth to run: its Python and the PYTHONPATH that selects its code."""

    name: str
    python: Path
    pythonpath: str | None


def release(revision: str, wheelhouse: Path) -> Version:
    """The release installed (not editable) from its source into a venv of its own, offline."""
    folder = OUT / f"release-{revision}"
    python = folder / "venv" / "bin" / "python"
    if not python.exists():
        shutil.rmtree(folder, ignore_errors=True)
        source = folder / "src"
        source.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", revision],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
        subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index",
                        "--find-links", str(wheelhouse), str(source)], check=True)
    return Version(f"release {revision}", python, None)


def this_tree() -> Version:
    # The package's bytecode, as an installed wheel has it (PYTHONDONTWRITEBYTECODE is set on
    # the shared machine: every run would otherwise compile each module it imports).
    compileall.compile_dir(REPO / "safetymonth", quiet=1)
    return Version("this tree", Path(sys.executable), str(REPO))


# --- one run -----------------------------------------------------------------------------


def write_config(run: Path, inputs: Path, imap: dict[str, object] | None) -> Path:
    units = yaml.safe_load((inputs / "units.yaml").read_text("utf-8"))
    data = {
        "campaign": {"deadline": "2027-06-24"},
        "storage": {"dir": "storage"},
        "mailbox": {"source": {"imap": imap} if imap else "maildir:inbox",
                    "outbox": "maildir:outbox",
                    "reply_rate_limit": {"count": 100000, "hours": 1}},
        "units": units,
    }
    path = run / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def deliver(inputs: Path, inbox: Path) -> None:
    """The mails into the Maildir ``inbox`` (hard links: poll only renames them)."""
    for sub in ("tmp", "new", "cur"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    for mail in sorted((inputs / "mails").iterdir()):
        os.link(mail, inbox / "new" / f"{mail.stem}.campaign:2,")


def commands(config: Path, inputs: Path, out: Path) -> dict[str, list[str]]:
    head = ["--config", str(config)]
    return {
        "notice": [*head, "generate", "notice", str(inputs / "notice.yaml"), "-o",
                   str(out / "通知.docx"), "--pdf"],
        "letters": [*head, "generate", "letter", str(inputs / "letters.yaml"), "-o",
                    str(out / "责任书")],
        "poll": [*head, "poll", "--once"],
        "report": [*head, "report"],
        "summary": [*head, "generate", "summary", str(inputs / "summary.yaml"), "-o",
                    str(out / "总结.docx"), "--pdf"],
    }


@dataclass
class Step:
    wall: float
    cpu: float
    log: str


def run_step(version: Version, arguments: list[str], cwd: Path,
             spy: Path | None = None) -> Step:
    env = {**os.environ, PASSWORD_ENV: "s3cret-pw"}
    env.pop("PYTHONPATH", None)
    if version.pythonpath:
        env["PYTHONPATH"] = version.pythonpath
    command = [str(version.python), "-m", "safetymonth", *arguments]
    if spy:
        spy_bin = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        command = [spy_bin, "record", "--subprocesses", "--format", "raw", "--rate", "100",
                   "--nonblocking", "-o", str(spy), "--", *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    log = (child.stdout + child.stderr).decode("utf-8", "replace")
    if child.returncode != 0:
        raise RuntimeError(f"{version.name}: {' '.join(arguments)}: exit "
                           f"{child.returncode}\n{log[-3000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Step(wall, cpu, log)


def campaign(version: Version, inputs: Path, run: Path, mails: int,
             imap: dict[str, object] | None, spy: Path | None) -> dict[str, Step]:
    """Every step once, in a fresh folder; checks that each did its work."""
    shutil.rmtree(run, ignore_errors=True)
    (run / "out").mkdir(parents=True)
    config = write_config(run, inputs, imap)
    if imap is None:
        deliver(inputs, run / "inbox")
    steps = {}
    for name, arguments in commands(config, inputs, run / "out").items():
        steps[name] = run_step(version, arguments, run,
                               spy / f"{name}.txt" if spy else None)
    processed = steps["poll"].log.rsplit("processed ", 1)[1].split(",")[0]
    assert int(processed) == mails, steps["poll"].log[-1000:]
    replies = len(list((run / "outbox" / "new").iterdir()))
    assert replies >= mails * 0.9, f"{version.name}: only {replies} replies sent"
    for made in ("通知.pdf", "总结.pdf"):
        assert (run / "out" / made).stat().st_size > 0, made
    letters = len(list((run / "out" / "责任书").glob("*.docx")))
    assert letters == len(yaml.safe_load((inputs / "units.yaml").read_text("utf-8")))
    print(f"  {version.name}: {processed} mails, {replies} replies, {letters} letters, "
          + ", ".join(f"{name} {step.wall:.2f} s" for name, step in steps.items())
          + f", total {sum(step.wall for step in steps.values()):.2f} s", flush=True)
    return steps


# --- the mail server ---------------------------------------------------------------------


class ImapSource:
    """A Dovecot of its own; each run gets a user whose INBOX holds every mail."""

    def __init__(self) -> None:
        from tests.support.mailservers import Dovecot

        folder = Path(tempfile.mkdtemp(prefix="safetymonth-bench-"))
        folder.chmod(0o755)  # Dovecot's own users read its config there
        self.server = Dovecot(folder / "dovecot")
        self.server.start()

    def fill(self, inputs: Path) -> dict[str, object]:
        user = self.server.add_user()
        with self.server.client(user, None) as box:
            for mail in sorted((inputs / "mails").iterdir()):
                box.append(mail.read_bytes(), "INBOX", flag_set=[])
        return {"host": "127.0.0.1", "port": self.server.port, "security": "none",
                "user": user, "password_env": PASSWORD_ENV}

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.server.root.parent, ignore_errors=True)


# --- the figures -------------------------------------------------------------------------


def profile_top(path: Path, count: int = 8) -> str:
    """The hottest frames of a py-spy raw (collapsed) profile: by self samples (the leaf), and
    by inclusive samples of this package's functions (each counted once per stack)."""
    leaf: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text("utf-8", "replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack:
            continue
        samples_here = int(number)
        total += samples_here
        frames = [frame for frame in stack.split(";") if not frame.startswith("process ")]
        key = _short(frames[-1]) if frames else "?"
        leaf[key] = leaf.get(key, 0) + samples_here
        for frame in {_short(f) for f in frames if "safetymonth/" in f}:
            inclusive[frame] = inclusive.get(frame, 0) + samples_here

    def top(counts: dict[str, int]) -> str:
        ranked = sorted(counts.items(), key=lambda item: -item[1])[:count]
        return "\n".join(f"      {100 * n / max(total, 1):5.1f} %  {name}" for name, n in ranked)

    return (f"    {total} samples; self:\n{top(leaf)}\n    inclusive (safetymonth):\n"
            f"{top(inclusive)}")


def _short(frame: str) -> str:
    """``func (path/to/module.py:12)`` as ``func (module.py)``: lines apart are one item."""
    name, _, where = frame.partition(" (")
    module = where.rsplit(":", 1)[0].rstrip(")")
    parts = module.split("/")
    return f"{name} ({'/'.join(parts[-2:])})"


def best(runs: list[dict[str, Step]]) -> dict[str, Step]:
    """Each step's fastest run (the machine is shared: the minimum is the least disturbed)."""
    return {name: min((steps[name] for steps in runs), key=lambda step: step.wall)
            for name in STEPS}


def table(results: dict[str, list[dict[str, Step]]], goal: float) -> None:
    names = list(results)
    fastest = {name: best(runs) for name, runs in results.items()}
    print(f"\n{'step':<9}" + "".join(f"{name:>24}" for name in names)
          + ("   ratio" if len(names) == 2 else ""))
    for step in (*STEPS, "total"):
        walls = [sum(s.wall for s in fastest[n].values()) if step == "total"
                 else fastest[n][step].wall for n in names]
        cpus = [sum(s.cpu for s in fastest[n].values()) if step == "total"
                else fastest[n][step].cpu for n in names]
        line = f"{step:<9}" + "".join(f"{w:9.2f} s (CPU {c:6.2f} s)"
                                      for w, c in zip(walls, cpus, strict=True))
        if len(names) == 2:
            line += f"   {walls[0] / walls[1]:5.2f}x"
        print(line)
    ours = sum(step.wall for step in fastest[names[0]].values())
    verdict = "met" if ours <= goal else "MISSED"
    print(f"goal: total <= {goal:g} s: {verdict} ({ours:.2f} s, each step its best of "
          f"{len(results[names[0]])})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--runs", type=int, default=1, help="Campaigns per version.")
    parser.add_argument("--imap", action="store_true", help="Mail from Dovecot, not a Maildir.")
    parser.add_argument("--release", default="ef824d8")
    parser.add_argument("--wheelhouse", type=Path, default=REPO / "build" / "wheelhouse",
                        help="The wheels the release's dependencies install from (offline).")
    parser.add_argument("--only", choices=("ours", "release"))
    parser.add_argument("--runs-dir", type=Path,
                        help="Where the runs' folders go (default: under bench/out/).")
    parser.add_argument("--py-spy", type=Path, help="Record this tree's steps into DIR.")
    args = parser.parse_args()
    inputs, files = make_inputs(args.units, args.mails)
    print(f"{args.units} units, {args.mails} mails carrying {files} files, "
          f"{sum(p.stat().st_size for p in (inputs / 'mails').iterdir()) / 1e6:.0f} MB")
    versions = []
    if args.only != "release":
        versions.append(this_tree())
    if args.only != "ours":
        versions.append(release(args.release, args.wheelhouse))
    source = ImapSource() if args.imap else None
    results: dict[str, list[dict[str, Step]]] = {v.name: [] for v in versions}
    try:
        for attempt in range(args.runs):
            for version in versions:  # alternating, so a change in load hits both
                imap = source.fill(inputs) if source else None
                spy = args.py_spy.resolve() if version.pythonpath and args.py_spy else None
                if spy:
                    spy.mkdir(parents=True, exist_ok=True)
                run = (args.runs_dir or OUT / f"runs-{args.units}-{args.mails}").resolve() / \
                    f"{version.name.split()[0]}-{attempt}"
                results[version.name].append(campaign(version, inputs, run, args.mails,
                                                      imap, spy))
    finally:
        if source:
            source.stop()
    table(results, 6.0 if args.mails <= 300 else 30.0)
    if args.py_spy:
        for name in STEPS:
            print(f"\nprofile of {name} (this tree, last run):\n"
                  f"{profile_top(args.py_spy / f'{name}.txt')}")


if __name__ == "__main__":
    main()
