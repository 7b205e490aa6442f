"""Where the 版记 goes: on the last side of a double-sided print, as LibreOffice paginates.

A .docx does not know its page breaks, and neither Word nor LibreOffice can be told "this
table on an even page". So the document is laid out twice in LibreOffice, without the 版记
and with it at the foot of the body's last page; the page counts say on which page the body
ends and whether the 版记 fits under it. Word sets the same 22-line grid, so it breaks the
pages alike.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from safetymonth.docgen import pdf
from safetymonth.docgen.layout import OfficialDocument, Placement


def placement_for(body_pages: int, imprint_fits: bool) -> Placement:
    """GB/T 9704 7.4/7.5 for a body ending on page ``body_pages``.

    Odd: the 版记 goes alone on the next, even page. Even: at the foot of the same page when
    it fits there, else after a blank page (the next even page).
    """
    if body_pages % 2:
        return Placement.NEXT_PAGE
    return Placement.SAME_PAGE if imprint_fits else Placement.AFTER_BLANK


def with_imprint_on_even_page(
        build: Callable[[Placement | None], OfficialDocument]) -> OfficialDocument:
    """The document ``build`` makes, with its 版记 on an even page (see placement_for).

    ``build(None)`` must give the document without the 版记, ``build(placement)`` with it.
    Raises PdfError when LibreOffice cannot lay it out.
    """
    candidates = {"body": build(None), "same": build(Placement.SAME_PAGE)}
    with tempfile.TemporaryDirectory(prefix="safetymonth-paging-") as folder:
        sources = []
        for name, document in candidates.items():
            sources.append(Path(folder) / f"{name}.docx")
            document.save(sources[-1])
        body_pdf, same_pdf = pdf.convert_cold(sources, Path(folder))
        body_pages, pages = pdf.page_count(body_pdf), pdf.page_count(same_pdf)
    placement = placement_for(body_pages, imprint_fits=pages == body_pages)
    return candidates["same"] if placement is Placement.SAME_PAGE else build(placement)
