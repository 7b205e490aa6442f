"""Many files checked on every core: ``check_files`` for a caller that holds a list.

The heavy parsing (MediaInfo, the JPEG decode, FFmpeg) runs in the sandbox's worker processes
and the header readers in this process are cheap, so one thread per worker is the whole
parallelism: each thread checks a file at a time and waits on its own worker, and the pool's
size (one worker per core unless ``validate --jobs`` said otherwise) bounds them. One file is
checked in the caller's thread with one worker; two or more use every worker, each started
by its thread's first file that needs one, side by side (a caller that knows early that files
are coming starts them sooner with :func:`~safetymonth.validator.sandbox.prestart`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from safetymonth.config import Policy
from safetymonth.validator import sandbox
from safetymonth.validator.check import check_file
from safetymonth.validator.verdict import Verdict


def check_files(paths: Sequence[Path], policy: Policy,
                names: Sequence[str | None] | None = None) -> list[list[Verdict]]:
    """Each file's verdicts (as :func:`check_file` gives them), in input order; ``names``,
    when given, is each file's name to report (one per path)."""
    return list(iter_checks(paths, policy, names))


def iter_checks(paths: Sequence[Path], policy: Policy,
                names: Sequence[str | None] | None = None) -> Iterator[list[Verdict]]:
    """:func:`check_files` one file at a time, as each is done in input order (for a
    progress bar)."""
    labels = list(names) if names is not None else [None] * len(paths)
    if len(labels) != len(paths):
        raise ValueError("one name per path")
    threads = min(len(paths), sandbox.pool_size())
    if threads <= 1:
        for path, name in zip(paths, labels, strict=True):
            yield check_file(path, policy, name)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="check") as pool:
        yield from pool.map(check_file, paths, [policy] * len(paths), labels)
