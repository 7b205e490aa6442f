"""Benchmark: a 1 GiB MP4 sent through a unit's upload link, tus over loopback in 8 MiB
PATCHes, against ``cp`` of the same file on the same disk.

    .venv/bin/python bench/upload.py [--size-mb 1024] [--chunk-mb 8]
        [--client raw|httpx|tuspy] [--tree DIR] [--no-uvloop] [--reuse]

The MP4 is a real ffmpeg video (1280×720, 2 s) grown to the size with a top-level ``free``
box. ``safetymonth serve`` runs as its own process on a store under ``bench/out/upload``;
the client PATCHes it 8 MiB at a time (as Uppy's tus plugin does with ``chunkSize``): by
default ``http.client`` with each body sent by ``sendfile`` (the least a client costs), or
httpx, or the reference client tuspy. ``--tree`` serves another tree (a ``git archive`` of
the code before), ``--no-uvloop`` hides uvloop from the server.
Targets: throughput ≥ 0.5× ``cp`` (the peer, measured in the same run: ``cp`` alone,
and ``cp`` followed by an fsync of the copy, since the server fsyncs each PATCH), the
server's peak RSS (``VmHWM``) ≤ 150 MB, and the verdict on the unit's page
(``/u/{token}/files``, what the page polls) ≤ 2 s after the last byte.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.console import serve  # noqa: E402
from tests.support.upload_links import padded  # noqa: E402

OUT = REPO / "bench" / "out" / "upload"
MiB = 1024 * 1024


def make_video(path: Path, size: int) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=1280x720:rate=25:duration=2", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)], check=True)
    return padded(path, size, os.urandom(MiB))  # not zeros: no layer may shortcut them


def time_cp(source: Path, fsync: bool) -> float:
    target = source.with_name("copy.mp4")
    target.unlink(missing_ok=True)
    start = time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    if fsync:
        handle = os.open(target, os.O_RDONLY)
        os.fsync(handle)
        os.close(handle)
    elapsed = time.perf_counter() - start
    target.unlink()
    return elapsed


def write_config(folder: Path) -> Path:
    import yaml

    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump({
        "storage": {"dir": "storage"},
        "mailbox": {"source": "maildir:inbox", "outbox": "maildir:outbox"},
        "web": {"public_url": "http://127.0.0.1"},
        "uploads": {"receipt": True}}, allow_unicode=True), encoding="utf-8")
    return path


def token_of(config: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "safetymonth", "--config", str(config),
                          "links", "--json"], check=True, capture_output=True, text=True,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}).stdout
    return str(json.loads(out)[0]["url"].rsplit("/", 1)[1])


def upload(url: str, token: str, source: Path, chunk: int, client: str
           ) -> tuple[float, float]:
    """(seconds for every byte, seconds from the last byte to the verdict)."""
    start = time.perf_counter()
    send = {"httpx": _send_httpx, "tuspy": _send_tuspy, "raw": _send_raw}[client]
    send(url, token, source, chunk)
    sent = time.perf_counter()
    with httpx.Client(base_url=url, timeout=60) as session:
        while True:  # until the page would show the verdict (its poll stops at "done")
            uploads = session.get(f"/u/{token}/files").json()["uploads"]
            if uploads and uploads[0]["state"] in ("done", "failed"):
                break
            time.sleep(0.02)
    verdict = time.perf_counter()
    assert uploads[0]["state"] == "done" and uploads[0]["ok"], uploads
    return sent - start, verdict - sent


TUS = {"Tus-Resumable": "1.0.0"}
PATCH = {**TUS, "Content-Type": "application/offset+octet-stream"}


def _send_httpx(url: str, token: str, source: Path, chunk: int) -> None:
    """httpx: each piece read into memory, then PATCHed."""
    size = source.stat().st_size
    with httpx.Client(base_url=url, timeout=600) as client, source.open("rb") as stream:
        created = client.post(f"/u/{token}/tus/", headers={
            **TUS, "Upload-Length": str(size), "Upload-Metadata": "filename YmVuY2gubXA0"})
        created.raise_for_status()
        location, offset = created.headers["location"], 0
        while offset < size:
            response = client.patch(location, content=stream.read(chunk), headers={
                **PATCH, "Upload-Offset": str(offset)})
            assert response.status_code == 204, response.text
            offset = int(response.headers["upload-offset"])


def _send_tuspy(url: str, token: str, source: Path, chunk: int) -> None:
    """The reference client (tuspy, on requests), as the tests use it."""
    from tusclient import client as tus_client

    uploader = tus_client.TusClient(f"{url}/u/{token}/tus/").uploader(
        str(source), chunk_size=chunk, metadata={"filename": "bench.mp4"}, retries=0)
    uploader.upload()


def _send_raw(url: str, token: str, source: Path, chunk: int) -> None:
    """http.client with the body sent by ``sendfile`` from the page cache: the least a
    client can cost, so what is left is the server's."""
    import http.client

    host, port = url.removeprefix("http://").split(":")
    size = source.stat().st_size
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    connection.request("POST", f"/u/{token}/tus/", headers={
        **TUS, "Upload-Length": str(size), "Upload-Metadata": "filename YmVuY2gubXA0"})
    created = connection.getresponse()
    created.read()
    assert created.status == 201, created.status
    location, offset = created.headers["location"], 0
    with source.open("rb") as stream:
        while offset < size:
            length = min(chunk, size - offset)
            connection.putrequest("PATCH", location, skip_accept_encoding=True)
            for name, value in {**PATCH, "Upload-Offset": str(offset),
                                "Content-Length": str(length)}.items():
                connection.putheader(name, value)
            connection.endheaders()
            assert connection.sock is not None
            connection.sock.sendfile(stream, offset, length)
            response = connection.getresponse()
            response.read()
            assert response.status == 204, response.status
            offset = int(response.headers["upload-offset"])
    connection.close()


def server_pid(port: str) -> int:
    """The ``safetymonth serve --port PORT`` process this run started."""
    for entry in Path("/proc").iterdir():
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in words and port.encode() in words:
            return int(entry.name)
    raise RuntimeError("the server process was not found")


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU time of the process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--chunk-mb", type=int, default=8)
    parser.add_argument("--client", choices=("raw", "httpx", "tuspy"), default="raw")
    parser.add_argument("--tree", type=Path, default=REPO,
                        help="serve the code of this tree (a `git archive` of another commit)")
    parser.add_argument("--no-uvloop", action="store_true",
                        help="the server on asyncio's own event loop, uvloop hidden from it")
    parser.add_argument("--reuse", action="store_true", help="keep the video of a last run")
    args = parser.parse_args()
    source = OUT / "big.mp4"
    if not (args.reuse and source.exists() and source.stat().st_size == args.size_mb * MiB):
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True)
        make_video(source, args.size_mb * MiB)
    shutil.rmtree(OUT / "storage", ignore_errors=True)
    size = source.stat().st_size
    cp_plain = min(time_cp(source, False) for _ in range(2))
    cp_synced = min(time_cp(source, True) for _ in range(2))
    config = write_config(OUT)
    token = token_of(config)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(args.tree.resolve())] + ([str(_hide_uvloop())] if args.no_uvloop else []))
    server = serve(config)
    os.chdir(args.tree)  # `python -m` puts its working folder first on the path
    try:
        console = next(server)
    finally:
        os.chdir(REPO)
    try:
        pid = server_pid(console.url.rsplit(":", 1)[1])
        before, client_before = cpu_times(pid), os.times()
        seconds, to_verdict = upload(console.url, token, source, args.chunk_mb * MiB,
                                     args.client)
        after, client_after = cpu_times(pid), os.times()
        rss = peak_rss_mb(pid)
    finally:
        server.close()
    mib = size / MiB
    user, system = after[0] - before[0], after[1] - before[1]
    client_user = client_after.user - client_before.user
    client_system = client_after.system - client_before.system
    print(f"file {mib:.0f} MiB, PATCH {args.chunk_mb} MiB, client {args.client}, "
          f"tree {args.tree}, {'asyncio' if args.no_uvloop else 'default'} loop, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"upload  {seconds:6.2f} s  {mib / seconds:7.1f} MiB/s")
    print(f"cp      {cp_plain:6.2f} s  {mib / cp_plain:7.1f} MiB/s  "
          f"ratio {cp_plain / seconds:.2f}× (target ≥ 0.5×)")
    print(f"cp+sync {cp_synced:6.2f} s  {mib / cp_synced:7.1f} MiB/s  "
          f"ratio {cp_synced / seconds:.2f}×")
    print(f"CPU ms per MiB: server {(user + system) / mib * 1000:.2f} "
          f"(user {user / mib * 1000:.2f}, system {system / mib * 1000:.2f}); "
          f"client {(client_user + client_system) / mib * 1000:.2f} "
          f"(user {client_user / mib * 1000:.2f}, system {client_system / mib * 1000:.2f})")
    print(f"server peak RSS {rss:.1f} MB (target ≤ 150 MB)")
    print(f"last byte to verdict {to_verdict:.2f} s (target ≤ 2 s)")


def _hide_uvloop() -> Path:
    """A folder whose ``uvloop`` fails to import, first on the server's path (uvicorn then
    falls back to asyncio's loop, as where uvloop is not installed)."""
    folder = OUT / "no-uvloop" / "uvloop"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text('raise ImportError("hidden by bench/upload.py")\n')
    return folder.parent


if __name__ == "__main__":
    main()
