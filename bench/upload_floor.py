"""Benchmark: what the parts of an upload cost the machine at the least, per MiB, beside
``cp`` of the same bytes (bench/README.md, upload, third pass).

    .venv/bin/python bench/upload_floor.py [--size-mb 1024]

Each part alone, with its CPU time from ``getrusage`` of the thread (or child) doing it:
receiving over TCP loopback into one reused buffer (the sender ``sendfile``s from the page
cache in another thread), writing fresh pages of a new file with ``os.write`` from one
reused 2 MiB buffer, its fsync, SHA-256 in ``hashlib``, and ``cp`` (a child: its own CPU,
which on ext4 is ``copy_file_range`` inside the kernel) with and without an fsync.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out" / "upload-floor"
MiB = 1024 * 1024


def thread_cost(work: Callable[[], None]) -> tuple[float, float, float]:
    """(wall, user, system) seconds of ``work`` in the calling thread."""
    before, start = resource.getrusage(resource.RUSAGE_THREAD), time.perf_counter()
    work()
    after, end = resource.getrusage(resource.RUSAGE_THREAD), time.perf_counter()
    return end - start, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def receive(source: Path) -> tuple[float, float, float]:
    size = source.stat().st_size
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def send() -> None:
        with socket.create_connection(("127.0.0.1", port)) as out, source.open("rb") as file:
            out.sendfile(file)

    sender = threading.Thread(target=send)
    sender.start()
    connection, _ = listener.accept()
    buffer = bytearray(256 * 1024)  # uvloop's and asyncio's read size

    def take() -> None:
        left = size
        while left:
            left -= connection.recv_into(buffer) or left
    cost = thread_cost(take)
    sender.join()
    connection.close()
    listener.close()
    return cost


def write(target: Path, size: int) -> tuple[tuple[float, float, float], float]:
    block = os.urandom(2 * MiB)
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def fill() -> None:
        left = size
        while left:
            left -= os.write(fd, block[:min(left, len(block))])
    cost = thread_cost(fill)
    start = time.perf_counter()
    os.fsync(fd)
    synced = time.perf_counter() - start
    os.close(fd)
    target.unlink()
    return cost, synced


def sha256(source: Path) -> tuple[float, float, float]:
    def digest() -> None:
        with source.open("rb") as stream:
            hashlib.file_digest(stream, "sha256")
    return thread_cost(digest)


def cp(source: Path, fsync: bool) -> tuple[float, float, float]:
    target = source.with_name("copy")
    target.unlink(missing_ok=True)
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    if fsync:
        subprocess.run(["sync", str(target)], check=True)
    after, end = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    target.unlink()
    return end - start, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def line(name: str, cost: tuple[float, float, float], mib: float) -> str:
    wall, user, system = cost
    return (f"{name:28} wall {wall:6.2f} s ({mib / wall:7.1f} MiB/s)  CPU ms/MiB: "
            f"user {user / mib * 1000:5.2f}, system {system / mib * 1000:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / "source"
    size = args.size_mb * MiB
    if not source.exists() or source.stat().st_size != size:
        source.write_bytes(os.urandom(MiB) * args.size_mb)
    source.read_bytes()  # in the page cache, as the upload's client reads it
    mib = size / MiB
    print(f"{mib:.0f} MiB, load {os.getloadavg()[0]:.1f}")
    print(line("receive over loopback", receive(source), mib))
    written, synced = write(OUT / "written", size)
    print(line("write new pages (os.write)", written, mib) + f"; fsync {synced:.2f} s")
    print(line("SHA-256 (hashlib)", sha256(source), mib))
    print(line("cp", cp(source, False), mib))
    print(line("cp + sync", cp(source, True), mib))


if __name__ == "__main__":
    main()
