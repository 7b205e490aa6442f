"""Official documents in GB/T 9704-2012: notices, responsibility letters and summaries.

Data (YAML, :mod:`.models`) and a jinja2 template (``templates/``) give body markup
(:mod:`.markup`); :mod:`.layout` lays it out with python-docx, and :mod:`.oxml` holds every
raw OOXML tweak. :mod:`.pdf` exports through LibreOffice. docgen knows nothing of mail or
the store: a summary's intake table arrives as plain rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from safetymonth.docgen.batch import write_letters
from safetymonth.docgen.documents import (
    Options,
    TemplateError,
    build_notice,
    build_summary,
    environment,
)
from safetymonth.docgen.fonts import Faces, FontError
from safetymonth.docgen.layout import OfficialDocument, Placement
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
from safetymonth.docgen.paging import with_imprint_on_even_page
from safetymonth.docgen.pdf import PdfError, to_pdf, unite

KINDS = ("notice", "letter", "summary")
log = logging.getLogger(__name__)
DEFAULT_OPTIONS = Options()
# The one PDF of every letter, in roster order (generate letter --combined).
COMBINED_NAME = "00-全部责任书.pdf"

__all__ = [
    "COMBINED_NAME",
    "KINDS",
    "DataError",
    "DocgenError",
    "Faces",
    "FontError",
    "Options",
    "OutputError",
    "PdfError",
    "TemplateError",
    "build",
    "generate",
    "load",
    "to_pdf",
    "unite",
]


def output_file(out: Path, kind: str) -> Path:
    """``OUT`` itself when it names a .docx, else ``OUT/<kind>.docx``."""
    return out if out.suffix.lower() == ".docx" else out / f"{kind}.docx"


def build(data: Notice | Summary, templates_dir: Path | None = None,
          intake_rows: Sequence[Mapping[str, Any]] = (),
          options: Options = DEFAULT_OPTIONS) -> OfficialDocument:
    """A notice or summary, its 版记 on an even page unless options say single-sided.

    The page is worked out without LibreOffice where it can be (paging.py). Where
    LibreOffice is needed and cannot paginate the document, the 版记 stays at the foot of
    the body's last page, and a warning says so.
    """
    env = environment(templates_dir)

    def build_with(placement: Placement | None) -> OfficialDocument:
        if isinstance(data, Notice):
            return build_notice(data, env, options.faces, placement)
        return build_summary(data, intake_rows, env, options.faces, placement)

    if not options.imprint_on_even_page:
        return build_with(Placement.SAME_PAGE)
    try:
        return with_imprint_on_even_page(build_with, options.layout_cache)
    except PdfError as error:
        log.warning("版记 left on the body's last page, which may be odd: %s", error)
        return build_with(Placement.SAME_PAGE)


def generate(data: Data, out: Path, templates_dir: Path | None = None,
             intake_rows: Sequence[Mapping[str, Any]] = (), jobs: int = 0,
             on_done: Callable[[Path], None] | None = None,
             options: Options = DEFAULT_OPTIONS) -> list[Path]:
    """Write the .docx file(s) of ``data``; returns their paths.

    A notice or summary goes to ``out`` (a .docx path, or a folder); letters go one per unit
    into the folder ``out``. Bad data or templates raise DataError or TemplateError; an
    output that cannot be written raises OutputError.
    """
    if isinstance(data, Letter):
        return write_letters(data, out, templates_dir, jobs=jobs, on_done=on_done,
                             faces=options.faces)
    document = build(data, templates_dir, intake_rows, options)
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
