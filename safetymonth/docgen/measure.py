"""How wide text prints, estimated without a layout engine: line breaks in long Latin runs,
the squeeze that keeps a paragraph on one line, data table columns, 版记 rows, title lines."""

from __future__ import annotations

import math
import re

from safetymonth.docgen.geometry import (
    BLOCK_W,
    BODY_PT,
    CELL_MARGIN_MM,
    CELL_SLACK_MM,
    CHAR,
    CHAR_SPACING,
    IMPRINT_LINE_PT,
    IMPRINT_PAD_PT,
    NARROW_EM,
    SMALL_PT,
    TITLE_PT,
)

# An e-mail address or a URL of 10 characters or more would move to the next line whole and
# stretch the line it leaves: it may break anywhere. (Other Latin runs, numbers with units or
# names, keep their place and are short.)
LONG_LATIN = re.compile(r"(?=[!-~]*(?:@|://|www\.))[!-~]{10,}")
ZERO_WIDTH_SPACE = "\u200b"


def breakable(text: str) -> str:
    """Text with a break opportunity (U+200B, invisible) after every character of each long
    Latin run, so that no line is stretched by an e-mail address that does not fit.

    Word and LibreOffice both break at U+200B. (LibreOffice ignores Word's own switch,
    ``w:wordWrap``, which would also let Word break every Latin word anywhere.)
    """
    return LONG_LATIN.sub(lambda run: ZERO_WIDTH_SPACE.join(run.group()), text)


# A body paragraph a little longer than one line is set that little tighter, on one line: what
# would spill is often a tail that cannot break ("95%。": a number, then a mark that may not
# start a line) and would leave the first line stretched, each gap about 13% wide (JIS X 4051
# and clreq squeeze a line before they stretch one). At most SQUEEZE_PT per character (1.6% of
# the grid's pitch); SQUEEZE_MARGIN_PT covers what the width estimate misses (FangSong's "%" is
# wider than a digit, its "." narrower).
SQUEEZE_PT = 0.25
SQUEEZE_MARGIN_PT = 6.0


def squeezed_spacing(text: str) -> float | None:
    """The character spacing (pt) that keeps a body paragraph of ``text`` on one line, or None
    when it fits as it is, or would need more than SQUEEZE_PT a character."""
    if not text or LONG_LATIN.search(text) or "\n" in text:
        return None
    line = BLOCK_W * 72 / 25.4 - 2 * CHAR  # after the first-line indent
    over = width_pt(text) - line
    if over <= 0:
        return None
    squeeze = (over + SQUEEZE_MARGIN_PT) / len(text)
    if squeeze > SQUEEZE_PT:
        return None
    return math.floor((CHAR_SPACING - squeeze) * 20) / 20  # whole twentieths, never looser


def fitted_widths(rows: tuple[tuple[str, ...], ...]) -> list[float]:
    """Column widths (mm) of a data table: each as wide as its longest cell on one line.

    Space left over is shared equally; where the block is too narrow, the widest columns
    give way (they wrap) and the narrow ones keep their width.
    """
    natural = [max(width_pt(row[index], SMALL_PT, 0) for row in rows) * 25.4 / 72
               + 2 * CELL_MARGIN_MM + CELL_SLACK_MM for index in range(len(rows[0]))]
    spare = BLOCK_W - sum(natural)
    if spare >= 0:
        return [width + spare / len(natural) for width in natural]
    cap = max(natural)
    while sum(min(width, cap) for width in natural) > BLOCK_W:
        cap -= 0.5
    widths = [min(width, cap) for width in natural]
    capped = [index for index, width in enumerate(natural) if width > cap]
    share = (BLOCK_W - sum(widths)) / len(capped)
    return [width + share if index in capped else width for index, width in enumerate(widths)]


def _is_wide(char: str) -> bool:
    return ord(char) >= 0x2E80


def width_pt(text: str, size: float = BODY_PT, spacing: float = CHAR_SPACING) -> float:
    """Printed width of one line of text in points, about as LibreOffice sets it.

    Chinese characters are one em, digits and Latin letters about half (NARROW_EM), each
    plus the character spacing. No gap between Chinese and a digit or Latin letter: the .docx
    switches Word's off, and the PDF export LibreOffice's (autospace.py).
    """
    return sum((size if _is_wide(char) else NARROW_EM * size) + spacing
               for char in text if char != "\t")


def title_width_pt(text: str) -> float:
    """A title line's width: Chinese quotes are full-width there, as in the PDF."""
    return width_pt(text.translate(_FULL_WIDTH_QUOTES), TITLE_PT, 0)


_FULL_WIDTH_QUOTES = str.maketrans("“”‘’", "国国国国")


def imprint_row_pt(text: str, first_pt: float, later_pt: float) -> float:
    """A 版记 row's height: its lines, counted leaving 1.5 characters of room on each."""
    room = 1.5 * SMALL_PT
    width = width_pt(text, SMALL_PT, 0) + (SMALL_PT if "\t" in text else 0)
    lines, capacity = 1, first_pt - room
    while width > capacity:
        width -= capacity
        lines, capacity = lines + 1, later_pt - room
    return 2 * IMPRINT_PAD_PT + lines * IMPRINT_LINE_PT
