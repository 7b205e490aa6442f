"""Benchmark: ``safetymonth poll --once`` against a bare imap-tools fetch loop, on a local Dovecot.

    .venv/bin/python bench/intake.py [--messages 500] [--only throughput|memory|storage]

1. Throughput: N messages with 3 attachments each (photo, video, summary). The peer is the
   loop every imap-tools user writes, ``for msg in mailbox.fetch(mark_seen=False, bulk=...)``,
   which only downloads (and parses) the same messages. Target: poll ≤ 1.5× the bare fetch.
2. Memory: one 50 MB message; peak RSS of the ``poll --once`` process. Target ≤ 3× its size.
3. Storage: the same N messages with the store on SQLite against the release before the
   storage package (``--release``, a git revision checked out in a temp worktree: the peer),
   target within 10%; then on PostgreSQL 15 with one poller, and with two pollers sharing the
   mailbox and the database.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from imap_tools import A  # noqa: E402

from safetymonth.mailbox import samplemail  # noqa: E402
from tests.support.mailservers import PASSWORD, Dovecot, drop, write_config  # noqa: E402

PASSWORD_ENV = "SAFETYMONTH_BENCH_IMAP_PASSWORD"


def fill(server: Dovecot, user: str, count: int, media: samplemail.Media) -> int:
    """Append ``count`` messages (3 attachments each); returns their total size."""
    total = 0
    with server.client(user, None) as box:
        for index in range(count):
            parts = [samplemail.text_part(f"第{index}封"),
                     samplemail.file_part(media.document,
                                          samplemail.utf8_name(f"总结{index}.docx")),
                     samplemail.file_part(media.video, samplemail.utf8_name(f"视频{index}.mp4")),
                     samplemail.file_part(media.photo + index.to_bytes(4, "big"),
                                          samplemail.rfc2047_name(f"照片{index}.jpg"))]
            raw = samplemail.message("fuli@dhmz.example.cn", f"材料{index}", parts,
                                     message_id=f"<bench-{index}@example.cn>")
            box.append(raw, "INBOX", flag_set=[])
            total += len(raw)
    return total


def bare_fetch(server: Dovecot, user: str, keep_bytes: bool = False) -> tuple[float, int]:
    """The peer: the loop every imap-tools user writes, which downloads and parses each
    message and does nothing else. ``keep_bytes`` also takes each message's bytes back
    (``msg.obj.as_bytes()``: imap-tools keeps no raw copy), shown for reference only."""
    started = time.perf_counter()
    count = 0
    with server.client(user) as box:
        for message in box.fetch(A(all=True), mark_seen=False, bulk=100):
            count += 1 if not keep_bytes else len(message.obj.as_bytes()) > 0
    return time.perf_counter() - started, count


# The console script's work, plus the process's own peak RSS (VmHWM) written to stderr at
# exit. Not ru_maxrss from wait4: Linux carries the parent's peak (this benchmark holds the
# 50 MB message) across fork/vfork and exec into the child's ru_maxrss.
CHILD = (
    "import atexit, sys\n"
    "def peak():\n"
    "    status = open('/proc/self/status').read()\n"
    "    kib = next(l.split()[1] for l in status.splitlines() if l.startswith('VmHWM'))\n"
    "    sys.stderr.write(f'\\nVmHWM {kib}\\n')\n"
    "atexit.register(peak)\n"
    "from safetymonth.cli import main\n"
    "main()\n"
)


def poll(folder: Path, code: Path = REPO) -> tuple[float, int, str]:
    """``safetymonth poll --once`` as a user runs it (from the source tree ``code``); returns
    (seconds, peak RSS KiB, stderr)."""
    env = {**os.environ, PASSWORD_ENV: PASSWORD, "PYTHONPATH": str(code)}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        child = subprocess.run([sys.executable, "-c", CHILD, "--config",
                                str(folder / "config.yaml"), "poll", "--once"], env=env,
                               cwd=code, stdout=subprocess.DEVNULL, stderr=errors,
                               check=False)
        elapsed = time.perf_counter() - started
        errors.seek(0)
        log = errors.read().decode("utf-8", "replace")
    if child.returncode != 0:
        raise RuntimeError(log[-2000:])
    peak = int(log.rsplit("VmHWM ", 1)[1].split()[0])
    return elapsed, peak, log


def configure(folder: Path, server: Dovecot, user: str, database: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_config(folder, database, mailbox={
        "source": {"imap": {"host": "127.0.0.1", "port": server.port, "security": "none",
                            "user": user, "password_env": PASSWORD_ENV}},
        "reply_rate_limit": {"count": 100000, "hours": 1}})


def throughput(server: Dovecot, work: Path, count: int, media: samplemail.Media) -> None:
    user = server.add_user()
    size = fill(server, user, count, media)
    print(f"{count} messages, 3 attachments each, {size / 1e6:.1f} MB in the mailbox")
    bare = min(bare_fetch(server, user)[0] for _ in range(3))
    with_bytes = min(bare_fetch(server, user, keep_bytes=True)[0] for _ in range(2))
    timings = []
    for attempt in range(3):
        folder = work / f"poll-{attempt}"
        configure(folder, server, user)
        elapsed, _, log = poll(folder)
        assert f"processed {count}," in log, log[-500:]
        timings.append(elapsed)
    ours = min(timings)
    verdict = "met" if ours / bare <= 1.5 else "MISSED"
    print(f"bare imap-tools fetch  : {bare:6.2f} s  ({count / bare:6.0f} msg/s)")
    print(f"  same, + as_bytes()   : {with_bytes:6.2f} s  (reference only)")
    print(f"safetymonth poll --once: {ours:6.2f} s  ({count / ours:6.0f} msg/s)  "
          f"ratio {ours / bare:.2f}x (target <= 1.5x: {verdict}); "
          f"{ours / with_bytes:.2f}x the loop that also takes the bytes")


def memory(server: Dovecot, work: Path, media: samplemail.Media) -> None:
    idle_user = server.add_user()
    configure(work / "idle", server, idle_user)
    _, baseline, _ = poll(work / "idle")  # the same process with an empty mailbox
    user = server.add_user()
    padding = os.urandom(36 * 1024 * 1024)  # base64 makes it ~50 MB on the wire
    raw = samplemail.message("fuli@dhmz.example.cn", "大文件", [
        samplemail.text_part("x"),
        samplemail.file_part(media.photo + padding, samplemail.utf8_name("大照片.jpg"))])
    del padding
    with server.client(user, None) as box:
        box.append(raw, "INBOX", flag_set=[])
    configure(work / "big", server, user)
    _, peak, log = poll(work / "big")
    assert "processed 1," in log, log[-500:]
    # The same message from a Maildir source (no IMAP).
    folder = work / "maildir"
    folder.mkdir()
    write_config(folder)
    drop(folder / "inbox", "big.eml", raw)
    _, maildir_peak, log = poll(folder)
    assert "processed 1," in log, log[-500:]
    size, mib = len(raw), 1024 * 1024
    for name, value in (("IMAP", peak), ("Maildir", maildir_peak)):
        total, growth = value * 1024, (value - baseline) * 1024
        print(f"one {size / 1e6:.1f} MB message via {name}: peak RSS (VmHWM) "
              f"{total / mib:.0f} MiB = {total / size:.2f}x its size; above the "
              f"{baseline / 1024:.0f} MiB baseline {growth / mib:.0f} MiB = "
              f"{growth / size:.2f}x (target <= 3x)")


def unmark(server: Dovecot, user: str) -> None:
    """Make every message new again, so the next poll takes them all."""
    with server.client(user) as box:
        box.flag(box.uids(), "\\Seen", False)


def storage(server: Dovecot, work: Path, count: int, media: samplemail.Media,
            release: str) -> None:
    from tests.support.postgres import Postgres

    user = server.add_user()
    size = fill(server, user, count, media)
    print(f"{count} messages, {size / 1e6:.1f} MB; store on SQLite, then PostgreSQL 15")
    old = work / "release"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(old), release],
                   check=True, capture_output=True)
    # Both trees' bytecode first, as an installed package has it: with PYTHONDONTWRITEBYTECODE
    # set (as on this machine) each run would otherwise compile every module it imports.
    for code in (old, REPO):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(code / "safetymonth")],
                       check=True, capture_output=True)
    try:
        timings: dict[str, list[float]] = {"release": [], "now": []}
        for attempt in range(3):
            for name, code in (("release", old), ("now", REPO)):
                folder = work / f"{name}-{attempt}"
                configure(folder, server, user)
                unmark(server, user)
                elapsed, _, log = poll(folder, code)
                assert f"processed {count}," in log, log[-500:]
                timings[name].append(elapsed)
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)],
                       check=False, capture_output=True)
    then, now = min(timings["release"]), min(timings["now"])
    verdict = "met" if now <= then * 1.10 else "MISSED"
    print(f"SQLite, release {release}: {then:6.2f} s  ({count / then:5.0f} msg/s)")
    print(f"SQLite, this tree      : {now:6.2f} s  ({count / now:5.0f} msg/s)  "
          f"ratio {now / then:.2f}x (target <= 1.10x: {verdict})")
    server_pg = Postgres(Path(tempfile.mkdtemp(prefix="safetymonth-bench-pg-")))
    server_pg.start()
    try:
        for pollers in (1, 2):
            url = server_pg.url(server_pg.create_database())
            # One config for all: pollers sharing a database share storage.dir too (on
            # several hosts, one shared mount), or each would find the others' files missing.
            folders = [work / f"pg{pollers}"] * pollers
            configure(folders[0], server, user, url)
            unmark(server, user)
            started = time.perf_counter()
            with ThreadPoolExecutor(pollers) as pool:
                logs = [log for _, _, log in pool.map(poll, folders)]
            elapsed = time.perf_counter() - started
            processed = sum(int(log.rsplit("processed ", 1)[1].split(",")[0]) for log in logs)
            assert processed == count, [log[-300:] for log in logs]
            print(f"PostgreSQL, {pollers} poller{'s' if pollers > 1 else ' '}    : "
                  f"{elapsed:6.2f} s  ({count / elapsed:5.0f} msg/s)  "
                  f"{elapsed / now:.2f}x SQLite")
    finally:
        server_pg.stop()
        shutil.rmtree(server_pg.root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--only", choices=("throughput", "memory", "storage"))
    parser.add_argument("--release", default="ef824d8",
                        help="the git revision whose poll --once is the storage peer")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="safetymonth-bench-"))
    work.chmod(0o755)
    server = Dovecot(work / "dovecot")
    server.start()
    try:
        media = samplemail.make_media()
        if args.only in (None, "throughput"):
            throughput(server, work, args.messages, media)
        if args.only in (None, "memory"):
            memory(server, work, media)
        if args.only in (None, "storage"):
            storage(server, work, args.messages, media, args.release)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
