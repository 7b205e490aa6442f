"""Where the 版记 goes: on the last side of a double-sided print, as LibreOffice paginates.

A .docx does not know its page breaks, and neither Word nor LibreOffice can be told "this
table on an even page". The page the body ends on, and whether the 版记 fits under it, come
from estimate.py, which works them out from the 22-line grid without a layout engine. Where
it cannot be sure (Latin text, a body ending at a hair of the 版记), the document is laid
out twice in LibreOffice, without the 版记 and with it at the foot of the body's last page,
and the page counts are kept by the document's hash (layoutcache.py). Word sets the same
22-line grid, so it breaks the pages alike.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from safetymonth.docgen import layoutcache, pdf
from safetymonth.docgen.estimate import estimate
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
        build: Callable[[Placement | None], OfficialDocument],
        cache: Path | None = None) -> OfficialDocument:
    """The document ``build`` makes, with its 版记 on an even page (see placement_for).

    ``build(None)`` must give the document without the 版记, ``build(placement)`` with it.
    Where the estimator is sure (estimate.py) no LibreOffice runs; else the page counts come
    from LibreOffice, or from ``cache`` (a folder) when this same document was laid out
    before. Raises PdfError when LibreOffice is needed and cannot lay it out.
    """
    same = build(Placement.SAME_PAGE)
    guess = estimate(same.doc)
    if guess.certain:
        body_pages, fits = guess.body_pages, guess.imprint_fits
    else:
        body_pages, pages = laid_out(build, same, cache)
        fits = pages == body_pages
    placement = placement_for(body_pages, imprint_fits=fits)
    return same if placement is Placement.SAME_PAGE else build(placement)


def laid_out(build: Callable[[Placement | None], OfficialDocument], same: OfficialDocument,
             cache: Path | None = None) -> tuple[int, int]:
    """Pages of the body alone and of the body with the 版记 under it, as LibreOffice
    paginates them (one layout of each), or as it did for the same document before."""
    name = layoutcache.key(same.doc)
    known = layoutcache.read(cache, name)
    if known is not None:
        return known
    candidates = {"body": build(None), "same": same}
    with tempfile.TemporaryDirectory(prefix="safetymonth-paging-") as folder:
        sources = []
        for label, document in candidates.items():
            sources.append(Path(folder) / f"{label}.docx")
            document.save(sources[-1])
        body_pdf, same_pdf = pdf.convert_cold(sources, Path(folder))
        counts = pdf.page_count(body_pdf), pdf.page_count(same_pdf)
    layoutcache.write(cache, name, *counts)
    return counts
