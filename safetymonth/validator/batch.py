"""Checking many files for the ``validate`` command: folders, parallel checks, a progress bar,
and the human-readable table."""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import click

from safetymonth.config import Policy
from safetymonth.validator import messages, sandbox
from safetymonth.validator.parallel import iter_checks
from safetymonth.validator.verdict import Verdict

# Below this many files a progress bar is noise.
PROGRESS_THRESHOLD = 20


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and every file below each folder, in a stable order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file())
        else:
            files.append(path)
    return files


def validate_paths(paths: Iterable[Path], policy: Policy, jobs: int = 0,
                   progress: bool = False) -> list[Verdict]:
    """Verdicts for every file under ``paths``, in input order. ``jobs`` 0 means one per core.

    The header readers are cheap and run in threads of this process; the parsers that do the
    heavy work (MediaInfo, JPEG decoding) run in the sandbox's worker processes, ``jobs`` of
    them at most, so the sandbox pool is the parallelism and no process pool sits on top;
    from two files on, every worker is used (:mod:`~safetymonth.validator.parallel`)."""
    files = expand(paths)
    workers = jobs or os.cpu_count() or 1
    sandbox.set_size(workers)
    results = iter_checks(files, policy)
    if progress and len(files) >= PROGRESS_THRESHOLD:
        with click.progressbar(results, length=len(files), label="检查中",
                               file=sys.stderr) as bar:
            return [verdict for verdicts in bar for verdict in verdicts]
    return [verdict for verdicts in results for verdict in verdicts]


# --- the table -----------------------------------------------------------------------------

COLUMNS = ("结果", "文件", "类型", "格式", "尺寸", "说明")


def format_table(verdicts: list[Verdict]) -> str:
    """A plain table a clerk can read in a terminal, with a count at the end."""
    rows = [COLUMNS] + [_row(verdict) for verdict in verdicts]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join(_pad(cell, width) for cell, width in zip(row, widths, strict=False))
             + "  " + row[-1] for row in rows]
    passed = sum(verdict.ok for verdict in verdicts)
    lines.append(f"\n共{len(verdicts)}个文件：{passed}个合格，{len(verdicts) - passed}个不合格")
    return "\n".join(lines)


def _row(verdict: Verdict) -> tuple[str, ...]:
    size = f"{verdict.width}×{verdict.height}" if verdict.width and verdict.height else "-"
    notes = [finding.message for finding in verdict.reasons + verdict.warnings]
    return ("合格" if verdict.ok else "不合格", verdict.path, messages.KIND_NAMES[verdict.kind],
            verdict.format or "-", size, "；".join(notes) or "-")


def _width(text: str) -> int:
    """Display width: CJK characters take two terminal columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
