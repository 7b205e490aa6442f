"""The board: every unit's tally from read-time credit, on a large store.

``.venv/bin/python bench/board.py [--units 2000] [--files 100000] [--database URL]`` fills a
store under bench/out/board (2,000 units, one address each, 100,000 checked files over 20,000
messages, some credited by domain, some by decision, some re-sent), then times
``Repository.unit_tallies`` (two grouped queries) against the peer: the naive way, loading
every message with its files into Python and crediting each there against the registry.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from timing import laps

from safetymonth.storage.credit import RegistryUnit
from safetymonth.storage.repository import NewAttachment, Outcome, Received, Repository, now
from safetymonth.storage.schema import attachments, checks, messages

OUT = Path(__file__).parent / "out" / "board"
KINDS = ("photo", "video", "document")


def fill(store: Repository, units: int, files: int) -> None:
    rng = random.Random(7)
    registry = [RegistryUnit(f"u{n}", f"单位{n}", (f"u{n}@example.cn",)) for n in range(units)]
    registry[0] = RegistryUnit("u0", "单位0", ("@domain.example.cn",))
    store.sync_registry(registry)
    per_message = 5
    with store.batch():
        for index in range(files // per_message):
            unit = rng.randrange(units)
            sender = f"x{index}@domain.example.cn" if unit == 0 else f"u{unit}@example.cn"
            with store.transaction():
                message = store.record_received(f"k{index}", Received(
                    f"{index:064x}", 1, f"<{index}@x>", sender, None, "s", None)).message
                store.record_verdicts(message, [
                    NewAttachment(position, f"f{position}.jpg", "files/x",
                                  f"{rng.randrange(files // 2):064x}", 1, "image/jpeg",
                                  [{"path": f"f{position}.jpg", "kind": rng.choice(KINDS),
                                    "ok": rng.random() < 0.8}])
                    for position in range(per_message)])
                store.record_outcome(message, Outcome("processed", None, "pass", None, None,
                                                      None, {}))
            if index % 100 == 0:
                store.record_decision("credit", "bench", "bench", now(), message=message,
                                      unit=f"u{rng.randrange(units)}")


def naive(store: Repository) -> dict[str, dict[tuple[str, bool], set[str]]]:
    """The peer: every message and file into Python, credited there (no decisions even)."""
    exact = {f"u{n}@example.cn": f"u{n}" for n in range(1, 100000)}
    rows = store.conn.execute(
        select(messages.c.sender, attachments.c.sha256, checks.c.kind, checks.c.ok)
        .select_from(messages.join(attachments, attachments.c.message == messages.c.id)
                     .join(checks, checks.c.attachment == attachments.c.id))).all()
    store.conn.rollback()
    tally: dict[str, dict[tuple[str, bool], set[str]]] = defaultdict(lambda: defaultdict(set))
    for sender, sha256, kind, ok in rows:
        unit = exact.get(sender) or ("u0" if sender.endswith("@domain.example.cn") else None)
        if unit:
            tally[unit][(kind, bool(ok))].add(sha256)
    return tally


def best(function: Callable[[], object], repeat: int = 7) -> tuple[float, float]:
    """The fastest and the median of ``repeat`` calls, in ms."""
    times = laps(function, repeat)
    return min(times) * 1000, statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--files", type=int, default=100000)
    parser.add_argument("--database", default=None)
    parser.add_argument("--keep", action="store_true", help="Reuse the store of a former run.")
    args = parser.parse_args()
    if not args.keep:
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True, mode=0o700)
    with Repository(OUT, args.database) as store:
        if not args.keep:
            started = time.perf_counter()
            fill(store, args.units, args.files)
            print(f"filled {args.files} files of {args.units} units in "
                  f"{time.perf_counter() - started:.1f} s ({store.dialect})")
        tallies = store.unit_tallies()
        assert len(tallies) > args.units * 0.9
        ours, ours_median = best(store.unit_tallies)
        one, _ = best(lambda: store.unit_tally("u5"))
        peer, peer_median = best(lambda: naive(store))
    print(f"unit_tallies (the board): best {ours:.1f} ms, median {ours_median:.1f} ms")
    print(f"one unit's tally: best {one:.1f} ms")
    print(f"peer, every row into Python: best {peer:.1f} ms, median {peer_median:.1f} ms")
    print(f"ratio: {peer / ours:.1f}x faster than the peer")


if __name__ == "__main__":
    main()
