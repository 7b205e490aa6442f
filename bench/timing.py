"""Timing shared by the benchmarks: each call of an action timed on its own."""

from __future__ import annotations

import time
from collections.abc import Callable


def laps(action: Callable[[], object], runs: int = 7) -> list[float]:
    """The seconds each of ``runs`` calls of ``action`` took."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times
