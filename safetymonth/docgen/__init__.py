"""Official documents in GB/T 9704-2012: notices, responsibility letters and summaries.

Data (YAML, :mod:`.models`) and a jinja2 template (``templates/``) give body markup
(:mod:`.markup`); :mod:`.layout` lays it out with python-docx, and :mod:`.oxml` holds every
raw OOXML tweak. :mod:`.pdf` exports through LibreOffice. docgen knows nothing of mail or
the store: a summary's intake table arrives as plain rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from safetymonth.docgen.batch import write_letters
from safetymonth.docgen.documents import TemplateError, build_notice, build_summary, environment
from safetymonth.docgen.models import (
    Data,
    DataError,
    DocgenError,
    Letter,
    Notice,
    OutputError,
    Summary,
    load,
)
from safetymonth.docgen.pdf import PdfError, to_pdf

KINDS = ("notice", "letter", "summary")

__all__ = ["KINDS", "DataError", "DocgenError", "OutputError", "PdfError", "TemplateError",
           "generate", "load", "to_pdf"]


def output_file(out: Path, kind: str) -> Path:
    """``OUT`` itself when it names a .docx, else ``OUT/<kind>.docx``."""
    return out if out.suffix.lower() == ".docx" else out / f"{kind}.docx"


def generate(data: Data, out: Path, templates_dir: Path | None = None,
             intake_rows: Sequence[Mapping[str, Any]] = (), jobs: int = 0,
             on_done: Callable[[Path], None] | None = None) -> list[Path]:
    """Write the .docx file(s) of ``data``; returns their paths.

    A notice or summary goes to ``out`` (a .docx path, or a folder); letters go one per unit
    into the folder ``out``. Bad data or templates raise DataError or TemplateError; an
    output that cannot be written raises OutputError.
    """
    if isinstance(data, Letter):
        return write_letters(data, out, templates_dir, jobs=jobs, on_done=on_done)
    env = environment(templates_dir)
    if isinstance(data, Notice):
        document = build_notice(data, env)
    else:
        assert isinstance(data, Summary)
        document = build_summary(data, intake_rows, env)
    path = output_file(out, data.kind)
    if path != out and out.exists() and not out.is_dir():
        raise OutputError(f"{out}: is a file; name a .docx file or a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        document.save(path)
    except OSError as error:
        raise OutputError.from_os(error, path) from error
    if on_done:
        on_done(path)
    return [path]
