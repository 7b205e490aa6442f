"""Where LibreOffice ends a document's body, worked out from the .docx without laying it out.

The GB/T 9704 page is a grid of 22 lines of 28 characters, widow control is off and every
paragraph of a notice or summary is a run of grid lines or of exact-height lines, so the
page breaks follow from line counts. A paragraph's lines come from LibreOffice's own rules
as measured on its PDFs: characters set one after another (Chinese 1 em, digits ½ em, each
with the style's character spacing), a line broken where the next character does not fit,
never before a mark that may not start a line nor after one that may not end it (zh-CN's
lists), never inside a run of Latin letters and digits; no hanging punctuation. A paragraph
kept with the next (headings, the body's last paragraph, the signature) moves whole to the
next page when it and the next paragraph's first line do not fit.

A data table's row is as high as its fullest cell (exact 20 pt lines in 4号) plus its rule,
never split, its header row repeated atop each page it runs on to. What cannot be known this
way gives an :class:`Estimate` that is not ``certain``: Latin text whose letter widths decide
a line break, a body ending within a hair of the 版记's top. paging.py then asks LibreOffice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from docx.document import Document
from docx.oxml.ns import qn
from lxml.etree import _Element

from safetymonth.docgen.geometry import BLOCK_W, LINE_PITCH

PITCH = LINE_PITCH / 20  # pt
PAGE_PT = 22 * PITCH  # the text area: 22 grid lines
LINE_PT = BLOCK_W * 72 / 25.4
# zh-CN's forbidden marks in LibreOffice (i18npool): none starts a line / none ends one.
NO_START = set("!%),.:;?]}¢°·ˇˉ―‖’”„‟†‡›℃∶、。〃々〉》」』】〕〗〞"
               "︶︺︾﹀﹄﹚﹜﹞！＂％＇），．：；？］｝～￠")
NO_END = set("$(£¥·‘“〈《「『【〔〖〝﹙﹛﹝＄（［｛￡￥")
# Digits are ½ em in the faces fonts.conf maps to; Latin letters vary, between these.
LETTER_EM = (0.4, 0.62)
FIT_TOLERANCE_PT = 1.0  # a line this close to full may break either way
MARGIN_PT = 3.0  # a body ending this close to the 版记's top is not decided here


@dataclass(frozen=True)
class Paragraph:
    """One paragraph as pagination sees it."""

    lines: tuple[int, int]  # fewest and most lines it may take
    line_pt: float
    before_pt: float = 0.0
    after_pt: float = 0.0
    keep_next: bool = False
    page_break: bool = False
    repeat_pt: float = 0.0  # a table row: its table's header, repeated atop a new page
    tall_row: bool = False  # a table row of several lines, which LibreOffice may split


@dataclass(frozen=True)
class Estimate:
    """Where the body ends: its last page, how far down (pt from the text area's top), whether
    the 版记 fits under it there, and whether all that is sure (module doc)."""

    body_pages: int
    end_pt: float
    imprint_fits: bool
    certain: bool


def estimate(document: Document) -> Estimate:
    """Estimate the body pages of a document built with its 版记 on the same page."""
    styles = _Styles(document)
    paragraphs: list[Paragraph] = []
    imprint_top: float | None = None
    certain = True
    for element in document.element.body.iterchildren():
        if element.tag == qn("w:tbl"):
            position = element.find(f"{qn('w:tblPr')}/{qn('w:tblpPr')}")
            if position is None:
                rows, sure = _table_rows(element, styles)
                paragraphs += rows
                certain = certain and sure
            else:
                imprint_top = int(position.get(qn("w:tblpY"))) / 20
                break
        elif element.tag == qn("w:p"):
            paragraphs.append(styles.paragraph(element))
    certain = certain and all(low == high for low, high in (p.lines for p in paragraphs))
    low, split_low = paginate([replace(p, lines=(p.lines[0],) * 2) for p in paragraphs])
    high, split_high = paginate([replace(p, lines=(p.lines[1],) * 2) for p in paragraphs])
    certain = certain and not (split_low or split_high)
    top = PAGE_PT if imprint_top is None else imprint_top
    fits = [end <= top for _, end in (low, high)]
    close = any(abs(end - top) < MARGIN_PT for _, end in (low, high))
    certain = certain and low[0] == high[0] and fits[0] == fits[1] and not close
    return Estimate(high[0], high[1], fits[1], certain)


def paginate(paragraphs: list[Paragraph]) -> tuple[tuple[int, float], bool]:
    """The page the last paragraph ends on and where (pt), paragraphs split at any line;
    and whether a table row of several lines met a page's foot (moved whole here)."""
    page, y, tall = 1, 0.0, False
    for index, paragraph in enumerate(paragraphs):
        if paragraph.page_break and (y > 0 or page > 1):
            page, y = page + 1, 0.0
        if paragraph.keep_next and y > 0:
            needed = _kept_height(paragraphs, index)
            if y + needed > PAGE_PT and needed <= PAGE_PT:
                page, y = page + 1, 0.0
        y += paragraph.before_pt
        for _ in range(paragraph.lines[0]):
            if y + paragraph.line_pt > PAGE_PT + 0.01 and y > 0:
                page, y = page + 1, paragraph.repeat_pt
                tall = tall or paragraph.tall_row
            y += paragraph.line_pt
        y += paragraph.after_pt
    return (page, y), tall


def _table_rows(table: _Element, styles: _Styles) -> tuple[list[Paragraph], bool]:
    """A data table's rows, each one unbreakable line as high as its fullest cell plus the
    rule under it; whether every cell's line count is sure."""
    widths = [int(_val(column, "w:w") or 0) / 20 for column in table.iter(qn("w:gridCol"))]
    margins = table.find(f"{qn('w:tblPr')}/{qn('w:tblCellMar')}")
    pad = sum(int(_val(margins.find(qn(f"w:{side}")), "w:w") or 0) / 20
              for side in ("left", "right")) if margins is not None else 0.0
    borders = table.find(f"{qn('w:tblPr')}/{qn('w:tblBorders')}")
    outer = int(_val(borders.find(qn("w:top")), "w:sz") or 0) / 8 if borders is not None else 0
    inner = int(_val(borders.find(qn("w:insideH")), "w:sz") or 0) / 8 \
        if borders is not None else 0
    rows, sure, header = [], True, 0.0
    tall = False
    trs = list(table.iterchildren(qn("w:tr")))
    for index, tr in enumerate(trs):
        height = 0.0
        for column, tc in enumerate(tr.iterchildren(qn("w:tc"))):
            cell = 0.0
            for p in tc.iterchildren(qn("w:p")):
                ppr = p.find(qn("w:pPr"))
                style = ppr.find(qn("w:pStyle")) if ppr is not None else None
                props = _apply(styles.props(_val(style)), None, ppr)
                pieces = list(_pieces(p, props))
                width = widths[column] - pad - props.left_pt - props.right_pt
                low = _count_lines(pieces, width, props.first_pt, LETTER_EM[0], FIT_TOLERANCE_PT)
                high = _count_lines(pieces, width, props.first_pt, LETTER_EM[1],
                                    -FIT_TOLERANCE_PT)
                sure = sure and low == high
                tall = tall or max(low, high) > 1
                cell += max(low, high) * (props.exact_pt or PITCH)
            height = max(height, cell)
        height += (outer if index == 0 else inner) + (outer if index == len(trs) - 1 else 0)
        if tr.find(f"{qn('w:trPr')}/{qn('w:tblHeader')}") is not None:
            header += height
        rows.append(Paragraph((1, 1), height, repeat_pt=header if index else 0.0,
                              tall_row=tall))
        tall = False
    return rows, sure


def _kept_height(paragraphs: list[Paragraph], start: int) -> float:
    """The height that must share a page: a run of keep-with-next paragraphs, whole, and
    the first line of the paragraph after them."""
    height = 0.0
    for paragraph in paragraphs[start:]:
        if not paragraph.keep_next:
            return height + paragraph.before_pt + paragraph.line_pt
        height += paragraph.before_pt + paragraph.lines[0] * paragraph.line_pt \
            + paragraph.after_pt
    return height


@dataclass(frozen=True)
class _Props:
    size_pt: float = 16.0
    spacing_pt: float = 0.0
    snap: bool = True
    exact_pt: float | None = None
    before_pt: float = 0.0
    first_pt: float = 0.0
    left_pt: float = 0.0
    right_pt: float = 0.0
    keep_next: bool = False
    page_break: bool = False
    after_pt: float = 0.0


class _Styles:
    """Paragraph properties as a style chain and a paragraph's own resolve them."""

    def __init__(self, document: Document) -> None:
        root = document.styles.element
        self._by_id = {style.get(qn("w:styleId")): style for style in root.iterchildren(
            qn("w:style"))}
        defaults = root.find(qn("w:docDefaults"))
        self._base = _apply(_Props(), *_props_of(defaults, "w:rPrDefault/w:rPr",
                                                  "w:pPrDefault/w:pPr"))
        self._cache: dict[str | None, _Props] = {}

    def props(self, style_id: str | None) -> _Props:
        if style_id not in self._cache:
            style = self._by_id.get(style_id) if style_id else None
            if style is None:
                self._cache[style_id] = self._base
            else:
                based = style.find(qn("w:basedOn"))
                parent = self.props(based.get(qn("w:val")) if based is not None else None)
                self._cache[style_id] = _apply(parent, *_props_of(style, "w:rPr", "w:pPr"))
        return self._cache[style_id]

    def paragraph(self, p: _Element) -> Paragraph:
        ppr = p.find(qn("w:pPr"))
        style = ppr.find(qn("w:pStyle")) if ppr is not None else None
        props = _apply(self.props(style.get(qn("w:val")) if style is not None else None),
                       None, ppr)
        pieces = list(_pieces(p, props))
        line_pt = props.exact_pt if props.exact_pt is not None else (
            PITCH if props.snap else props.size_pt * 1.2)
        width = LINE_PT - props.left_pt - props.right_pt
        low = _count_lines(pieces, width, props.first_pt, LETTER_EM[0], FIT_TOLERANCE_PT)
        high = _count_lines(pieces, width, props.first_pt, LETTER_EM[1], -FIT_TOLERANCE_PT)
        return Paragraph((min(low, high), max(low, high)), line_pt, props.before_pt,
                         props.after_pt, props.keep_next, props.page_break)


def _props_of(owner: _Element | None, rpr_path: str, ppr_path: str
              ) -> tuple[_Element | None, _Element | None]:
    if owner is None:
        return None, None
    return owner.find(_clark(rpr_path)), owner.find(_clark(ppr_path))


def _clark(path: str) -> str:
    return "/".join(qn(step) for step in path.split("/"))


def _val(element: _Element | None, name: str = "w:val") -> str | None:
    return None if element is None else element.get(qn(name))


def _on(element: _Element | None) -> bool | None:
    if element is None:
        return None
    return _val(element) not in ("0", "false", "off")


def _apply(props: _Props, rpr: _Element | None, ppr: _Element | None) -> _Props:
    """``props`` with what a run's (rPr) and a paragraph's (pPr) properties say over it."""
    changes: dict[str, object] = {"page_break": False} if ppr is not None else {}
    if rpr is not None:
        changes |= _run_changes(rpr)
    if ppr is not None:
        spacing, ind = ppr.find(qn("w:spacing")), ppr.find(qn("w:ind"))
        if _val(spacing, "w:lineRule") == "exact":
            changes["exact_pt"] = int(_val(spacing, "w:line") or 0) / 20
        elif _val(spacing, "w:line") is not None:
            changes["exact_pt"] = None
        if _val(spacing, "w:before") is not None:
            changes["before_pt"] = int(_val(spacing, "w:before") or 0) / 20
        for key, name in (("first_pt", "w:firstLine"), ("left_pt", "w:left"),
                          ("right_pt", "w:right")):
            if _val(ind, name) is not None:
                changes[key] = int(_val(ind, name) or 0) / 20
        if _val(ind, "w:hanging") is not None:
            changes["first_pt"] = -int(_val(ind, "w:hanging") or 0) / 20
        for key, name in (("snap", "w:snapToGrid"), ("keep_next", "w:keepNext"),
                          ("page_break", "w:pageBreakBefore")):
            flag = _on(ppr.find(qn(name)))
            if flag is not None:
                changes[key] = flag
        bottom = ppr.find(f"{qn('w:pBdr')}/{qn('w:bottom')}")
        if bottom is not None:
            changes["after_pt"] = int(_val(bottom, "w:space") or 0) + int(
                _val(bottom, "w:sz") or 0) / 8
    return replace(props, **changes)  # type: ignore[arg-type]


def _run_changes(rpr: _Element) -> dict[str, object]:
    changes: dict[str, object] = {}
    size, spacing = rpr.find(qn("w:sz")), rpr.find(qn("w:spacing"))
    if size is not None:
        changes["size_pt"] = int(_val(size) or 32) / 2
    if spacing is not None:
        changes["spacing_pt"] = int(_val(spacing) or 0) / 20
    return changes


@dataclass(frozen=True)
class _Piece:
    """Text set in one size and spacing, or a forced line break (text None)."""

    text: str | None
    size_pt: float
    spacing_pt: float


def _pieces(p: _Element, props: _Props) -> Iterator[_Piece]:
    for run in p.iter(qn("w:r")):
        rpr = run.find(qn("w:rPr"))
        own = _apply(props, rpr, None) if rpr is not None else props
        for child in run.iterchildren():
            if child.tag == qn("w:t"):
                yield _Piece(child.text or "", own.size_pt, own.spacing_pt)
            elif child.tag == qn("w:br"):
                yield _Piece(None, own.size_pt, own.spacing_pt)
            elif child.tag == qn("w:tab"):
                yield _Piece("\t", own.size_pt, own.spacing_pt)


def _is_wide(char: str) -> bool:
    return ord(char) >= 0x2E80 or char in "“”‘’—…"


def _is_word(char: str) -> bool:
    return char.isascii() and not char.isspace()


def _advance(char: str, size: float, spacing: float, letter_em: float) -> float:
    if char == "\u200b":
        return 0.0
    if _is_wide(char):
        return size + spacing
    if char.isdigit():
        return size / 2 + spacing
    if char == " ":
        return size / 4 + spacing
    return letter_em * size + spacing


def _count_lines(pieces: list[_Piece], width: float, first_pt: float, letter_em: float,
                 slack: float) -> int:
    """Lines of a paragraph, each broken as LibreOffice breaks Chinese text (module doc)."""
    if any(piece.text and "\t" in piece.text for piece in pieces):
        return 1 + sum(piece.text is None for piece in pieces)  # a tabbed line: made to fit
    lines, chars = 0, []
    for piece in [*pieces, _Piece(None, 0, 0)]:
        if piece.text is None:
            lines += _break(chars, width, first_pt if lines == 0 else 0.0, slack)
            chars = []
            first_pt = 0.0 if lines else first_pt
        else:
            chars += [(char, _advance(char, piece.size_pt, piece.spacing_pt, letter_em))
                      for char in piece.text]
    return max(lines, 1)


def _break(chars: list[tuple[str, float]], width: float, first_pt: float, slack: float) -> int:
    """Lines of one stretch of text between forced breaks."""
    lines, start, room = 1, 0, width - first_pt + slack
    used = 0.0
    index = 0
    while index < len(chars):
        used += chars[index][1]
        if used > room and index > start:
            cut = _last_break(chars, start, index)
            lines, start, room, used = lines + 1, cut, width + slack, 0.0
            index = cut
            continue
        index += 1
    return lines


def _last_break(chars: list[tuple[str, float]], start: int, over: int) -> int:
    """Where the next line starts when character ``over`` does not fit: the last place at or
    before it that may break, else ``over`` itself (an emergency break)."""
    for cut in range(over, start, -1):
        before, after = chars[cut - 1][0], chars[cut][0]
        if after in NO_START or before in NO_END:
            continue
        if _is_word(before) and _is_word(after):
            continue
        return cut
    return over
