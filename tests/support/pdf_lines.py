"""Text lines and rules of a LibreOffice PDF, in mm from the paper's top-left corner: what the
GB/T 9704 tests (tests/docgen/) measure, read with pdfplumber."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pdfplumber

MM = 72 / 25.4
# The text block of GB/T 9704's A4 page, mm: top, bottom, left and right edges.
BLOCK_TOP, BLOCK_BOTTOM, BLOCK_LEFT, BLOCK_RIGHT = 37.0, 262.0, 28.0, 184.0


@dataclass
class Line:
    top: float  # mm
    bottom: float
    x0: float
    x1: float
    size: float
    text: str
    fonts: set[str]
    colors: set[tuple[float, ...]]


def page_lines(page: pdfplumber.page.Page) -> list[Line]:
    rows: dict[float, list[dict]] = {}
    for char in page.chars:
        if not char["text"].strip():
            continue
        key = next((top for top in rows if abs(top - char["top"]) < 1.5), char["top"])
        rows.setdefault(key, []).append(char)
    lines = []
    for chars in rows.values():
        chars.sort(key=lambda char: char["x0"])
        lines.append(Line(
            top=min(c["top"] for c in chars) / MM, bottom=max(c["bottom"] for c in chars) / MM,
            x0=chars[0]["x0"] / MM, x1=chars[-1]["x1"] / MM,
            size=round(Counter(c["size"] for c in chars).most_common(1)[0][0], 1),
            text="".join(c["text"] for c in chars),
            fonts={c["fontname"].partition("+")[2] or c["fontname"] for c in chars},
            colors={tuple(c["non_stroking_color"] or ()) for c in chars}))
    return sorted(lines, key=lambda line: line.top)


def page_rules(page: pdfplumber.page.Page) -> list[tuple[float, float, float, tuple[float, ...]]]:
    """Horizontal rules (thin rects or lines) as (y mm, x0 mm, x1 mm, colour)."""
    found = []
    for shape in [*page.rects, *page.lines]:
        if shape["height"] < 2 and shape["width"] > 50 * MM:
            colour = shape.get("non_stroking_color") or shape.get("stroking_color") or ()
            found.append((round(shape["top"] / MM, 1), round(shape["x0"] / MM, 1),
                          round(shape["x1"] / MM, 1),
                          tuple(colour) if isinstance(colour, list | tuple) else (colour,)))
    return sorted(set(found))  # a rule may be drawn as a line and a rect at once


def pdf_pages(path: Path) -> list[list[Line]]:
    with pdfplumber.open(path) as document:
        return [page_lines(page) for page in document.pages]
