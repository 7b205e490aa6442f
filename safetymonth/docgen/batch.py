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
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from safetymonth.docgen.documents import check_templates_dir, environment, write_letter
from safetymonth.docgen.fonts import DEFAULT_FACES, Faces
from safetymonth.docgen.layout import OfficialDocument
from safetymonth.docgen.models import Letter, LetterUnit, OutputError
from safetymonth.filenames import safe_stem

DOCUMENT_PART = "word/document.xml"
# Below this many letters a second process costs more than it saves.
PARALLEL_FROM = 40


def letter_filenames(units: Sequence[LetterUnit]) -> list[str]:
    """One file name per unit: its roster number and its name, ``01-德化县社会福利中心.docx``.

    The number keeps the files in roster order in any file manager, and makes every name
    different even where case does not count (Windows, macOS); a name with nothing usable
    left is ``单位``.
    """
    digits = max(2, len(str(len(units))))
    return [f"{position:0{digits}d}-{safe_stem(unit.name, '单位')}.docx"
            for position, unit in enumerate(units, start=1)]


class LetterFactory:
    """Renders letters of one data file; the fixed parts are serialised once."""

    def __init__(self, data: Letter, templates_dir: Path | None = None,
                 faces: Faces = DEFAULT_FACES) -> None:
        self.data = data
        self.env = environment(templates_dir)
        self.document = OfficialDocument(faces)
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

    def write(self, unit: LetterUnit, path: Path) -> Path:
        path.write_bytes(self.render(unit))
        return path


# --- worker processes ----------------------------------------------------------------------
_factory: LetterFactory | None = None


def _init_worker(data: Letter, templates_dir: Path | None, faces: Faces) -> None:
    global _factory
    _factory = LetterFactory(data, templates_dir, faces)


def _write_in_worker(job: tuple[LetterUnit, Path]) -> Path:
    assert _factory is not None, "worker not initialised"
    return _factory.write(*job)


def write_letters(data: Letter, outdir: Path, templates_dir: Path | None = None,
                  jobs: int = 0, on_done: Callable[[Path], None] | None = None,
                  faces: Faces = DEFAULT_FACES) -> list[Path]:
    """Write one letter per unit into ``outdir``; ``jobs`` 0 means one process per core.

    Every unit gets its own file (letter_filenames), so as many files are written as there
    are units. A folder that cannot be made or written raises OutputError.
    """
    check_templates_dir(templates_dir)  # before any worker process needs it
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: is a file; letters go into a folder, one file per unit")
    targets = [outdir / name for name in letter_filenames(data.units)]
    jobs = jobs or os.cpu_count() or 1
    written = []
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        if jobs == 1 or len(data.units) < PARALLEL_FROM:
            paths = _serial(data, targets, templates_dir, faces)
        else:
            paths = _parallel(data, targets, templates_dir, faces, min(jobs, len(data.units)))
        for path in paths:
            written.append(path)
            if on_done:
                on_done(path)
    except OSError as error:
        raise OutputError.from_os(error, outdir) from error
    return written


def _serial(data: Letter, targets: Sequence[Path], templates_dir: Path | None,
            faces: Faces) -> Iterator[Path]:
    factory = LetterFactory(data, templates_dir, faces)
    for unit, path in zip(data.units, targets, strict=True):
        yield factory.write(unit, path)


def _parallel(data: Letter, targets: Sequence[Path], templates_dir: Path | None,
              faces: Faces, jobs: int) -> Iterator[Path]:
    jobs_list = list(zip(data.units, targets, strict=True))
    # forkserver, not fork: the caller may have threads (the console's thread pool, a
    # test's servers), and a child forked while another thread holds a lock (logging,
    # malloc) can hang for ever. The server imports docgen once, so workers still start
    # in milliseconds.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    chunk = max(1, len(jobs_list) // (jobs * 8))
    with context.Pool(jobs, initializer=_init_worker,
                      initargs=(data, templates_dir, faces)) as pool:
        yield from pool.imap(_write_in_worker, jobs_list, chunksize=chunk)
