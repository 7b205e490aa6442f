"""``safetymonth`` (or a peer tool) as a child process that cannot take the machine down, with
its memory measured: used by tests/validator/test_hostile.py and bench/fuzz.py.

The child gets an address-space cap and a wall clock after which it is killed, so that code
without the sandbox, or a regression in it, fails a test instead of hanging or exhausting the
machine. Peak RSS comes from wait4 (the largest of the child and every process it reaped) and,
optionally, from VmHWM sampled in /proc while it runs (the CLI process and its workers apart).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

GiB = 1024**3


@dataclass
class Run:
    returncode: int | None  # None: killed by the wall clock
    stdout: str
    stderr: str
    seconds: float
    peak_rss: int  # bytes, wait4: the largest of the CLI process and every child it reaped
    parent_hwm: int = 0  # bytes, sampled: the CLI process alone
    worker_hwm: int = 0  # bytes, sampled: the largest of its descendants


def run_cli(args: list[str], folder: Path, wall: float, memory: int = 8 * GiB,
            sample: bool = False) -> Run:
    """``safetymonth ARGS``; stdout and stderr go through files in ``folder``."""
    return run([sys.executable, "-m", "safetymonth", *args], folder, wall, memory, sample)


def run(command: list[str], folder: Path, wall: float, memory: int = 8 * GiB,
        sample: bool = False) -> Run:
    """Any command, under the same guards and measures."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    out, err = folder / "cli.stdout", folder / "cli.stderr"
    started = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr, preexec_fn=limit)
        hwm = {"parent": 0, "worker": 0}
        done = threading.Event()
        sampler = threading.Thread(target=_sample, args=(child.pid, hwm, done), daemon=True)
        if sample:
            sampler.start()
        killer = threading.Timer(wall, child.kill)
        killer.start()
        _, status, usage = os.wait4(child.pid, 0)  # reaped here, not by Popen
        killer.cancel()
        done.set()
        if sample:
            sampler.join()
    code = os.waitstatus_to_exitcode(status)
    return Run(None if code == -9 else code, out.read_text("utf-8", "replace"),
               err.read_text("utf-8", "replace"), time.monotonic() - started,
               usage.ru_maxrss * 1024, hwm["parent"], hwm["worker"])


def _sample(pid: int, hwm: dict[str, int], done: threading.Event) -> None:
    while not done.wait(0.05):
        hwm["parent"] = max(hwm["parent"], _hwm(pid))
        for worker in _descendants(pid):
            hwm["worker"] = max(hwm["worker"], _hwm(worker))


def _hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``: batch workers and the sandbox's probe workers."""
    direct = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):  # a child belongs to the thread that forked
            with open(f"/proc/{pid}/task/{task}/children") as children:
                direct += [int(child) for child in children.read().split()]
    except OSError:
        pass
    return direct + [grandchild for child in direct for grandchild in _descendants(child)]
