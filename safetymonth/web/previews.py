"""The first and the last page of the document a form describes, as PNG beside the form.

Made on demand (the form's 刷新预览 button), from the form's data whether saved or not:
docgen writes the .docx, LibreOffice the PDF, poppler's pdftoppm the two pages. The pages are
kept under ``storage.dir/documents/preview/<kind>-<hash of the data>/``, so the same data is
converted once; only the newest KEEP previews are kept. For the letters, only the first and
the last unit's letters are made: the first page of the one, the last page of the other.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from safetymonth import docgen
from safetymonth.config import Config
from safetymonth.docgen.batch import LetterFactory
from safetymonth.docgen.pdf import page_count
from safetymonth.document_options import document_options

PAGES = ("first", "last")
DPI = "60"
KEEP = 12


def key(kind: str, text: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """The hash of what a preview shows: the data file's text (and the intake rows, which a
    summary prints)."""
    digest = hashlib.sha256(f"{kind}\0{text}\0".encode())
    digest.update(json.dumps(list(rows), ensure_ascii=False, sort_keys=True,
                             default=str).encode())
    return digest.hexdigest()


def folder(config: Config) -> Path:
    path = config.storage_dir / "documents" / "preview"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def page(config: Config, kind: str, digest: str, which: str) -> Path | None:
    """One kept page (``first`` or ``last``), or ``None``."""
    if which not in PAGES or len(digest) != 64 or not all(c in "0123456789abcdef"
                                                           for c in digest):
        return None
    path = folder(config) / f"{kind}-{digest}" / f"{which}.png"
    return path if path.is_file() else None


def ready(config: Config, kind: str, digest: str) -> bool:
    return all(page(config, kind, digest, which) for which in PAGES)


def make(config: Config, data: docgen.Data, digest: str,
         rows: Sequence[Mapping[str, Any]]) -> None:
    """Make the two pages of ``data`` unless they are kept already."""
    target = folder(config) / f"{data.kind}-{digest}"
    if ready(config, data.kind, digest):
        os.utime(target)  # recently used: kept longest
        return
    with tempfile.TemporaryDirectory(prefix="preview-", dir=folder(config)) as work:
        workdir = Path(work)
        pdfs = docgen.to_pdf(_documents(config, data, rows, workdir), workdir)
        pages = workdir / "pages"
        pages.mkdir(mode=0o700)
        _png(pdfs[0], 1, pages / "first")
        _png(pdfs[-1], page_count(pdfs[-1]) or 1, pages / "last")
        try:
            os.replace(pages, target)
        except OSError:
            if not ready(config, data.kind, digest):  # another request made it meanwhile
                raise
    _prune(folder(config))


def _documents(config: Config, data: docgen.Data, rows: Sequence[Mapping[str, Any]],
               workdir: Path) -> list[Path]:
    templates = config.docgen.templates_dir
    templates = templates and config.resolve(templates)
    if isinstance(data, docgen.Letter):
        factory = LetterFactory(data, templates, document_options(config).faces)
        ends = [data.units[0], data.units[-1]] if len(data.units) > 1 else data.units[:1]
        return [factory.write(unit, workdir / f"letter-{n}.docx") for n, unit in enumerate(ends)]
    path = workdir / f"{data.kind}.docx"
    intake = rows if getattr(data, "intake", False) else []
    docgen.build(data, templates, intake, document_options(config)).save(path)
    return [path]


def _png(pdf: Path, number: int, target: Path) -> None:
    subprocess.run(["pdftoppm", "-png", "-f", str(number), "-l", str(number), "-r", DPI,
                    "-singlefile", str(pdf), str(target)], check=True, capture_output=True,
                   timeout=120)


def _prune(where: Path) -> None:
    """Keep the KEEP newest previews (by when they were made or last asked for)."""
    kept = sorted((path for path in where.iterdir() if path.is_dir()
                   and not path.name.startswith("preview-")),
                  key=lambda path: path.stat().st_mtime, reverse=True)
    for old in kept[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
