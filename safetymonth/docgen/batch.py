"""Responsibility letters for a whole roster: one .docx per unit, fast.

The page set-up, styles, footers, theme and settings are the same in every letter, so the
package is built and serialised once; per unit only the body is rebuilt and only
``word/document.xml`` is serialised into a copy of the zip. Large rosters are split over the
cores (each worker process builds its own template once).
"""

from __future__ import annotations

import io
import multiprocessing
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from safetymonth.docgen.documents import environment, write_letter
from safetymonth.docgen.layout import OfficialDocument
from safetymonth.docgen.models import Letter, LetterUnit

DOCUMENT_PART = "word/document.xml"
UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
# Below this many letters a second process costs more than it saves.
PARALLEL_FROM = 40


def letter_filename(unit: LetterUnit) -> str:
    """``德化县殡仪馆.docx``: the unit's name, with characters no file system accepts replaced."""
    return UNSAFE.sub("_", unit.name).strip(" .") + ".docx"


class LetterFactory:
    """Renders letters of one data file; the fixed parts are serialised once."""

    def __init__(self, data: Letter, templates_dir: Path | None = None) -> None:
        self.data = data
        self.env = environment(templates_dir)
        self.document = OfficialDocument()
        with zipfile.ZipFile(io.BytesIO(self.document.to_bytes())) as package:
            self.fixed = [(info, package.read(info)) for info in package.infolist()]

    def render(self, unit: LetterUnit) -> bytes:
        """One unit's letter as .docx bytes."""
        self.document.clear()
        write_letter(self.document, self.data, unit, self.env)
        body = self.document.doc.part.blob
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
            for info, content in self.fixed:
                package.writestr(info.filename,
                                 body if info.filename == DOCUMENT_PART else content)
        return buffer.getvalue()

    def write(self, unit: LetterUnit, outdir: Path) -> Path:
        path = outdir / letter_filename(unit)
        path.write_bytes(self.render(unit))
        return path


# --- worker processes ----------------------------------------------------------------------
_factory: LetterFactory | None = None


def _init_worker(data: Letter, templates_dir: Path | None) -> None:
    global _factory
    _factory = LetterFactory(data, templates_dir)


def _write_in_worker(job: tuple[LetterUnit, Path]) -> Path:
    assert _factory is not None, "worker not initialised"
    return _factory.write(*job)


def write_letters(data: Letter, outdir: Path, templates_dir: Path | None = None,
                  jobs: int = 0, on_done: Callable[[Path], None] | None = None) -> list[Path]:
    """Write one letter per unit into ``outdir``; ``jobs`` 0 means one process per core."""
    outdir.mkdir(parents=True, exist_ok=True)
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(data.units) < PARALLEL_FROM:
        paths = _serial(data, outdir, templates_dir)
    else:
        paths = _parallel(data, outdir, templates_dir, min(jobs, len(data.units)))
    written = []
    for path in paths:
        written.append(path)
        if on_done:
            on_done(path)
    return written


def _serial(data: Letter, outdir: Path, templates_dir: Path | None) -> Iterator[Path]:
    factory = LetterFactory(data, templates_dir)
    for unit in data.units:
        yield factory.write(unit, outdir)


def _parallel(data: Letter, outdir: Path, templates_dir: Path | None,
              jobs: int) -> Iterator[Path]:
    jobs_list: Sequence[tuple[LetterUnit, Path]] = [(unit, outdir) for unit in data.units]
    # fork: workers start in milliseconds and inherit the imported modules.
    context = multiprocessing.get_context("fork")
    chunk = max(1, len(jobs_list) // (jobs * 8))
    with context.Pool(jobs, initializer=_init_worker, initargs=(data, templates_dir)) as pool:
        yield from pool.imap(_write_in_worker, jobs_list, chunksize=chunk)
