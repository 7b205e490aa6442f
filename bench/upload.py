"""Benchmark: a 1 GiB MP4 sent through a unit's upload link, tus over loopback in 8 MiB
PATCHes, against ``cp`` of the same file on the same disk.

    .venv/bin/python bench/upload.py [--size-mb 1024] [--chunk-mb 8]

The MP4 is a real ffmpeg video (1280×720, 2 s) grown to the size with a top-level ``free``
box. ``safetymonth serve`` runs as its own process on a store under ``bench/out/upload``;
the client reads the file 8 MiB at a time and PATCHes each piece (as Uppy's tus plugin does
with ``chunkSize``). Targets: throughput ≥ 0.5× ``cp`` (the peer, measured in the same run:
``cp`` alone, and ``cp`` followed by an fsync of the copy, since the server fsyncs each
PATCH), the server's peak RSS (``VmHWM``) ≤ 150 MB, and the verdict on the unit's page
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


def upload(url: str, token: str, source: Path, chunk: int) -> tuple[float, float]:
    """(seconds for every byte, seconds from the last byte to the verdict)."""
    size = source.stat().st_size
    with httpx.Client(base_url=url, timeout=600) as client, source.open("rb") as stream:
        start = time.perf_counter()
        created = client.post(f"/u/{token}/tus/", headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": str(size),
            "Upload-Metadata": "filename YmVuY2gubXA0"})
        created.raise_for_status()
        location, offset = created.headers["location"], 0
        while offset < size:
            data = stream.read(chunk)
            response = client.patch(location, content=data, headers={
                "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream"})
            assert response.status_code == 204, response.text
            offset = int(response.headers["upload-offset"])
        sent = time.perf_counter()
        while True:
            uploads = client.get(f"/u/{token}/files").json()["uploads"]
            if uploads and uploads[0]["state"] in ("done", "failed"):
                break
            time.sleep(0.02)
        verdict = time.perf_counter()
        assert uploads[0]["state"] == "done" and uploads[0]["ok"], uploads
    return sent - start, verdict - sent


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


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--chunk-mb", type=int, default=8)
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    source = make_video(OUT / "big.mp4", args.size_mb * MiB)
    size = source.stat().st_size
    cp_plain = min(time_cp(source, False) for _ in range(2))
    cp_synced = min(time_cp(source, True) for _ in range(2))
    config = write_config(OUT)
    token = token_of(config)
    server = serve(config)
    console = next(server)
    try:
        pid = server_pid(console.url.rsplit(":", 1)[1])
        before, client_before = cpu_seconds(pid), time.process_time()
        seconds, to_verdict = upload(console.url, token, source, args.chunk_mb * MiB)
        server_cpu, client_cpu = cpu_seconds(pid) - before, time.process_time() - client_before
        rss = peak_rss_mb(pid)
    finally:
        server.close()
    rate = size / MiB / seconds
    print(f"file {size / MiB:.0f} MiB, PATCH {args.chunk_mb} MiB, load {os.getloadavg()[0]:.1f}")
    print(f"upload  {seconds:6.2f} s  {rate:7.1f} MiB/s")
    print(f"cp      {cp_plain:6.2f} s  {size / MiB / cp_plain:7.1f} MiB/s  "
          f"ratio {cp_plain / seconds:.2f}× (target ≥ 0.5×)")
    print(f"cp+sync {cp_synced:6.2f} s  {size / MiB / cp_synced:7.1f} MiB/s  "
          f"ratio {cp_synced / seconds:.2f}×")
    print(f"CPU: server {server_cpu:.1f} s, client {client_cpu:.1f} s "
          f"(server {server_cpu / (size / MiB) * 1000:.1f} ms per MiB)")
    print(f"server peak RSS {rss:.1f} MB (target ≤ 150 MB)")
    print(f"last byte to verdict {to_verdict:.2f} s (target ≤ 2 s)")


if __name__ == "__main__":
    main()
