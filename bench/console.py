"""Benchmark: the console's pages on a campaign-sized store, over loopback, one uvicorn worker.

    .venv/bin/python bench/console.py [--units 2000] [--groups 40] [--files 100000]
                                      [--engine sqlite|both]

The store holds ``--units`` units in ``--groups`` groups and ``--files`` files (synthetic
records written through the repository, five files a message; every record points at one
real photo, the only file a thumbnail opens). ``safetymonth serve`` runs as its own process;
each page is fetched with a logged-in session: a viewer of every group (the board with its
row per group, and filtered to one group) and a viewer of one group (the board of its units).
Targets: board and group rows p95 ≤ 100 ms, no page slower than 300 ms.

"During intake" fetches the board and ``/api/report`` with a message recorded through the
repository (five files, as intake records one) just before each request, so the store has
changed every time: nothing computed for the previous request can be reused.

The peer, measured in the same run, is the same work without HTTP: ``report_from_repository``
(what ``report --json`` does) called in this process on the same store; the ratio says what
the web layer (sessions, rendering, JSON, the threadpool hop) adds.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from safetymonth import samples  # noqa: E402
from safetymonth.config import load_config  # noqa: E402
from safetymonth.report import report_from_repository  # noqa: E402
from safetymonth.storage.repository import (  # noqa: E402
    PROCESSED,
    NewAttachment,
    Outcome,
    Received,
    open_repository,
)
from tests.support.console import log_in  # noqa: E402
from tests.support.mailservers import free_port  # noqa: E402
from tests.support.postgres import Postgres  # noqa: E402

PASSWORD = "bench-password-1"
FILES_PER_MESSAGE = 5
KINDS = ["document", "photo", "photo", "video", "photo"]


def write_config(folder: Path, units: int, database: str | None, groups: int = 0) -> Path:
    data = {"storage": {"dir": "storage", "database": database},
            "mailbox": {"source": "maildir:inbox", "outbox": "maildir:outbox"},
            "groups": [{"id": f"G{number:02d}", "name": f"测试分组{number:02d}"}
                       for number in range(groups)],
            "units": [{"id": f"U{number:04d}", "name": f"测试单位{number:04d}",
                       "emails": [f"unit{number}@bench.example.cn"],
                       **({"group": f"G{number % groups:02d}"} if groups else {})}
                      for number in range(units)]}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def fill(config_path: Path, units: int, files: int) -> tuple[float, str]:
    """Synthetic records through the repository, in batches; returns the seconds taken and
    the stored photo every record points at."""
    config = load_config(config_path)
    started = time.perf_counter()
    messages = files // FILES_PER_MESSAGE
    with open_repository(config) as store, store.batch():
        photo = samples.make_photo(Path(tempfile.mkdtemp()) / "p.jpg", 1920, 1080)
        _sha, stored = store.put_bytes(photo.read_bytes())
        for start in range(0, messages, 500):
            with store.transaction():
                for number in range(start, min(messages, start + 500)):
                    _message(store, number, number % units, stored)
    return time.perf_counter() - started, stored


def _message(store: object, number: int, unit: int, stored: str) -> None:
    sender = f"unit{unit}@bench.example.cn"
    sha = f"{number:064x}"
    message = store.record_received(f"bench:{number}", Received(  # type: ignore[attr-defined]
        sha256=sha, size=1000, message_id=f"<{number}@bench>", sender=sender,
        sender_name=None, subject=f"材料 {number}", date_header=None)).message
    attachments = []
    for position, kind in enumerate(KINDS):
        ok = (number + position) % 7 != 0
        name = f"{kind}-{number}-{position}.jpg"
        attachments.append(NewAttachment(position, name, stored, f"{number:056x}{position:08x}",
                                         1000, "image/jpeg", [{
                                             "path": name, "kind": kind, "format": "JPEG",
                                             "width": 1920, "height": 1080, "ok": ok,
                                             "reasons": [], "warnings": []}]))
    store.record_verdicts(message, attachments)  # type: ignore[attr-defined]
    store.record_outcome(message, Outcome(  # type: ignore[attr-defined]
        state=PROCESSED, unit=None, auth="pass", suspicious=None, not_credited=None,
        no_reply=None, notes={}))


def timed(client: httpx.Client, path: str, times: int) -> list[float]:
    laps = []
    for _ in range(times):
        started = time.perf_counter()
        response = client.get(path)
        laps.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return laps


def during_intake(client: httpx.Client, config_path: Path, path: str, times: int,
                  first: int, units: int, stored: str) -> list[float]:
    """``path`` fetched ``times`` times, each just after a new message was recorded."""
    laps = []
    with open_repository(load_config(config_path)) as store:
        for number in range(first, first + times):
            with store.transaction():
                _message(store, number, number % units, stored)
            laps.extend(timed(client, path, 1))
    return laps


def percentile(laps: list[float], share: float) -> float:
    ordered = sorted(laps)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(engine: str, units: int, files: int, postgres: Postgres | None,
        groups: int = 0) -> None:
    folder = Path(tempfile.mkdtemp(prefix="safetymonth-bench-console-"))
    database = postgres.url(postgres.create_database()) if postgres else None
    config_path = write_config(folder, units, database, groups)
    seconds, stored = fill(config_path, units, files)
    for name, scope in (("bench", []), ("bench-group", ["--group", "G01"] if groups else [])):
        subprocess.run([sys.executable, "-m", "safetymonth", "--config", str(config_path),
                        "user", "add", name, "--role", "viewer", *scope],
                       input=PASSWORD.encode(), check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "safetymonth", "--config",
                               str(config_path), "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz").text == "ok":
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        client = httpx.Client(base_url=url, timeout=60)
        assert log_in(client, "bench", PASSWORD).status_code == 303
        grouped = httpx.Client(base_url=url, timeout=60)
        assert log_in(grouped, "bench-group", PASSWORD).status_code == 303
        files_of_a_unit = client.get("/api/files", params={"unit": "U0001"}).json()
        pages = {
            "board /": timed(client, "/", 40),
            "board /?status=incomplete": timed(client, "/?status=incomplete", 20),
            "board /?group=G01": timed(client, "/?group=G01", 20),
            "board /, a group's viewer": timed(grouped, "/", 20),
            "/api/report, a group's viewer": timed(grouped, "/api/report", 20),
            "unit /units/U0001": timed(client, f"/units/{quote('U0001')}", 20),
            "/api/report": timed(client, "/api/report", 20),
            "/api/files?unit=U0001": timed(client, "/api/files?unit=U0001", 20),
            "board /, during intake": during_intake(
                client, config_path, "/", 30, files // FILES_PER_MESSAGE, units, stored),
            "board /, group's viewer, intake": during_intake(
                grouped, config_path, "/", 20, files // FILES_PER_MESSAGE + 50, units, stored),
            "/api/report, during intake": during_intake(
                client, config_path, "/api/report", 20, files // FILES_PER_MESSAGE + 30, units,
                stored),
            "thumbnail, first (made)": timed(client, f"/files/{files_of_a_unit[1]['id']}/thumb",
                                             1),
            "thumbnail, cached": timed(client, f"/files/{files_of_a_unit[1]['id']}/thumb", 20),
        }
        config = load_config(config_path)
        with open_repository(config) as store:
            peer = []
            for _ in range(10):
                started = time.perf_counter()
                report_from_repository(store, config)
                peer.append((time.perf_counter() - started) * 1000)
        print(f"\n{engine}: {units} units in {groups} groups, {files} files "
              f"({files // FILES_PER_MESSAGE} messages) written in {seconds:.0f} s")
        print(f"{'page':34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, laps in pages.items():
            print(f"{name:34} {statistics.median(laps):8.1f} {percentile(laps, 0.95):8.1f} "
                  f"{max(laps):8.1f}")
        api = statistics.median(pages["/api/report"])
        print(f"peer: report_from_repository in-process p50 {statistics.median(peer):.1f} ms; "
              f"/api/report over HTTP is {api / statistics.median(peer):.2f}x the peer")
        board95 = max(percentile(laps, 0.95) for name, laps in pages.items()
                      if name.startswith("board") and "intake" not in name)
        slowest = max(percentile(laps, 0.95) for name, laps in pages.items()
                      if not name.startswith("thumbnail, first"))
        print(f"targets: board and group rows p95 {board95:.0f} ms, store unchanged "
              f"(≤ 100: {_verdict(board95 <= 100)}); "
              f"slowest page p95 {slowest:.0f} ms (≤ 300: {_verdict(slowest <= 300)})")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    if args.engine in ("sqlite", "both"):
        run("SQLite", args.units, args.files, None, args.groups)
    if args.engine in ("postgresql", "both"):
        postgres = Postgres(Path(tempfile.mkdtemp(prefix="safetymonth-pg-")))
        try:
            postgres.start()
            run("PostgreSQL 15", args.units, args.files, postgres, args.groups)
        finally:
            postgres.stop()
            shutil.rmtree(postgres.root, ignore_errors=True)


if __name__ == "__main__":
    main()
