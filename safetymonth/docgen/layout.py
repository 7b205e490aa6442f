"""GB/T 9704-2012 page layout over python-docx: the friendly layer docgen writes with.

:class:`OfficialDocument` owns one python-docx ``Document`` set up once (page, grid, styles,
footers) and appends the elements of an official document in order. Raw XML is left to
:mod:`safetymonth.docgen.oxml`.
"""

from __future__ import annotations

import enum
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import docx
from docx.document import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_BREAK, WD_LINE_SPACING, WD_PARAGRAPH_ALIGNMENT, WD_TAB_ALIGNMENT
from docx.shared import Mm, Pt, RGBColor, Twips
from docx.styles.style import BaseStyle
from docx.text.paragraph import Paragraph
from lxml.etree import _Element

from safetymonth.docgen import markup, oxml, titles
from safetymonth.docgen.fonts import (
    DEFAULT_FACES,
    FANGSONG,
    HEITI,
    KAITI,
    SONGTI,
    XIAOBIAOSONG,
    Faces,
)

# --- GB/T 9704-2012 in numbers ------------------------------------------------------------
PAGE_W, PAGE_H = 210, 297  # A4, mm
TOP, BOTTOM, LEFT, RIGHT = 37, 35, 28, 26  # margins: a 156 × 225 mm text block
BLOCK_W, BLOCK_H = PAGE_W - LEFT - RIGHT, PAGE_H - TOP - BOTTOM
LINE_PITCH = 579  # twips: 22 lines in 225 mm
BODY_PT = 16  # 3号
TITLE_PT = 22  # 2号
SMALL_PT = 14  # 4号: page numbers, 版记, tables
CHAR_SPACING = -0.25  # pt: 28 characters of 16 pt fit 156 mm in LibreOffice and Word
CHAR = BODY_PT + CHAR_SPACING  # advance of one body character, pt
RED = RGBColor(0xFF, 0x00, 0x00)
# GB/T 9704 places the printed characters: the first line's glyphs start 37 mm from the top.
# LibreOffice centres a 16 pt line in its grid line, so the page margin sits half the leading
# higher (and the bottom margin as much lower), keeping the 225 mm, 22-line block. (With any
# other height LibreOffice centres the 22 grid lines in the area and the text moves.)
HALF_LEADING_MM = (LINE_PITCH / 20 - BODY_PT) / 2 * 25.4 / 72

HEADING_FONTS = {1: HEITI, 2: KAITI, 3: FANGSONG, 4: FANGSONG}

# Calibrated in LibreOffice against the PDF (tests/docgen/test_docgen_conformance.py measures it):
# the mark's glyph top lands 35 mm below the text block with this space before its line.
MARK_PT = 42  # 初号; shrunk when a long mark would not fit the text block
MARK_SPACE_BEFORE_MM = 35.6
MARK_LINE = 2 * LINE_PITCH
# Paragraph-border gap: the red rule 4 mm under the 发文字号's em box (the line's own half
# leading, 2.3 mm, comes on top of this gap).
RULE_SPACE_PT = 3
FOOTER_MM = 21.5  # page-number line: its top about 7 mm under the text block
# A title opening a page is dropped this far so its glyphs start at the block's top (37 mm);
# the blank line under it is shortened as much, so the body below stays on the grid.
PAGE_TITLE_DROP = 96  # twips
# LibreOffice always puts about 3.4 pt between a Chinese character and a digit or Latin letter
# (it ignores autoSpaceDE/DN; measured in the PDF). Word's autospace, on by default, also adds
# a gap there (its size not measured here).
AUTOSPACE_PT = 3.4
# Digits and Latin letters: 0.5 em in 仿宋_GB2312, 0.56 em in Noto Serif CJK (measured in the
# LibreOffice PDF). The mean keeps a signature within about 0.6 mm of centre over a date
# with eight digits in either.
NARROW_EM = 0.53
# Data tables (4号): cell margins, and room for the estimate of a cell's width to err.
CELL_MARGIN_MM, CELL_SLACK_MM = 1.0, 1.5
# 版记 (4号, off the grid): exact 20 pt lines, 3 pt before and after each, rules of 1 pt
# (outer) and 0.75 pt (between).
IMPRINT_LINE_PT, IMPRINT_PAD_PT, IMPRINT_OUTER_PT, IMPRINT_INNER_PT = 20, 3, 1, 0.75


class Placement(enum.Enum):
    """Where the 版记 goes (GB/T 9704 7.4: on the last side, an even page when printed
    double-sided; 7.5: a blank page before it, and it, carry no page number)."""

    SAME_PAGE = "same"  # at the foot of the page the body ends on
    NEXT_PAGE = "next"  # alone at the foot of the next page
    AFTER_BLANK = "blank"  # a blank page, then the 版记's page, neither numbered


@dataclass(frozen=True)
class Styles:
    """The paragraph and character styles every document uses (by python-docx proxy)."""

    body: BaseStyle
    plain: BaseStyle
    title: BaseStyle
    mark: BaseStyle
    center: BaseStyle
    signature: BaseStyle
    small: BaseStyle
    headings: dict[int, BaseStyle]
    heading_chars: dict[int, BaseStyle]
    footer: BaseStyle


class OfficialDocument:
    """One official document, built top to bottom."""

    def __init__(self, faces: Faces = DEFAULT_FACES) -> None:
        self.doc: Document = docx.Document()
        self.faces = faces
        oxml.drop_template_extras(self.doc)
        self._page_setup()
        self.styles = _define_styles(self.doc, faces)
        self._built: dict[markup.Block, list[_Element]] = {}
        self._footers()
        oxml.prune_styles(self.doc, keep=_KEEP_STYLES | {s.style_id for s in self._all_styles()})
        self._name_fonts()

    def _name_fonts(self) -> None:
        """Font table, theme and compatibility settings that let Word and WPS find the faces."""
        oxml.write_font_table(self.doc, self.faces.entries())
        oxml.set_theme_east_asian_fonts(self.doc, self.faces[FANGSONG], self.faces[HEITI])
        oxml.set_word_2013_mode(self.doc)

    # --- set-up, once per document (or once per batch) ----------------------------------

    def _page_setup(self) -> None:
        section = self.doc.sections[0]
        section.page_width, section.page_height = Mm(PAGE_W), Mm(PAGE_H)
        section.top_margin = Mm(TOP - HALF_LEADING_MM)
        section.bottom_margin = Mm(BOTTOM + HALF_LEADING_MM)
        section.left_margin, section.right_margin = Mm(LEFT), Mm(RIGHT)
        section.header_distance, section.footer_distance = Mm(15), Mm(FOOTER_MM)
        oxml.set_doc_grid(self.doc, LINE_PITCH)
        oxml.set_doc_defaults(self.doc, self.faces[FANGSONG], BODY_PT)

    def _footers(self) -> None:
        """``— N —`` in 4号宋体, odd pages right and even pages left, one character in."""
        self.doc.settings.odd_and_even_pages_header_footer = True
        section = self.doc.sections[0]
        for footer, align in ((section.footer, WD_PARAGRAPH_ALIGNMENT.RIGHT),
                              (section.even_page_footer, WD_PARAGRAPH_ALIGNMENT.LEFT)):
            footer.is_linked_to_previous = False
            paragraph = footer.paragraphs[0]
            oxml.apply_style(paragraph, self.styles.footer)
            paragraph.alignment = align
            indent = Pt(SMALL_PT)
            if align == WD_PARAGRAPH_ALIGNMENT.RIGHT:
                paragraph.paragraph_format.right_indent = indent
            else:
                paragraph.paragraph_format.left_indent = indent
            oxml.add_page_number(paragraph)

    def _all_styles(self) -> Iterable[BaseStyle]:
        s = self.styles
        yield from (s.body, s.plain, s.title, s.mark, s.center, s.signature, s.small, s.footer)
        yield from s.headings.values()
        yield from s.heading_chars.values()

    def clear(self) -> None:
        """Empty the body, keeping page set-up, styles and footers (batch letters)."""
        oxml.remove_body_content(self.doc)

    # --- elements, top to bottom -------------------------------------------------------

    def paragraph(self, text: str = "", style: BaseStyle | None = None) -> Paragraph:
        paragraph = self.doc.add_paragraph(breakable(text))
        oxml.apply_style(paragraph, style or self.styles.body)
        spacing = None if style else squeezed_spacing(text)
        if spacing is not None:
            oxml.set_char_spacing(paragraph.runs[0]._r, spacing)
        return paragraph

    def blank(self, lines: int = 1) -> None:
        for _ in range(lines):
            self.paragraph(style=self.styles.plain)

    def issuer_head(self, mark: str, number: str | None, signers: Sequence[str] = ()) -> None:
        """Red issuer mark 35 mm below the text block's top, 发文字号 and the red rule.

        With signers (a 上行文, GB/T 9704 7.2.5/7.2.6) the 发文字号 sits one character in
        from the left and ``签发人：`` with the names (楷体) one character in from the right
        of the same line; names go two to a line, the 发文字号 on the last.
        """
        size = min(MARK_PT, int(BLOCK_W / 25.4 * 72 / max(len(mark), 1)))
        paragraph = self.paragraph(style=self.styles.mark)
        paragraph.add_run(mark).font.size = Pt(size)
        self.blank(2)
        if not signers:
            rule = self.paragraph(number or "", self.styles.center)
        else:
            rows = [signers[index:index + 2] for index in range(0, len(signers), 2)]
            for row in rows[:-1]:
                self._signer_line(None, row, first=row is rows[0])
            rule = self._signer_line(number, rows[-1], first=len(rows) == 1)
        oxml.set_bottom_border(rule, "FF0000", 12, RULE_SPACE_PT)
        self.blank(2)

    def _signer_line(self, number: str | None, names: Sequence[str], first: bool) -> Paragraph:
        paragraph = self.paragraph(style=self.styles.plain)
        fmt = paragraph.paragraph_format
        fmt.left_indent = fmt.right_indent = Pt(CHAR)
        # Tab stops count from the margin, not the indent, in Word and LibreOffice alike.
        fmt.tab_stops.add_tab_stop(Mm(BLOCK_W) - Pt(CHAR), WD_TAB_ALIGNMENT.RIGHT)
        paragraph.add_run(f"{number or ''}\t" + ("签发人：" if first else "　" * 4))
        oxml.apply_style(paragraph.add_run("　".join(names))._r, self.styles.heading_chars[2])
        return paragraph

    def title(self, text: str, page_break: bool = False) -> None:
        """2号小标宋, centred; broken at the author's ``\\n`` or at whole words (titles.py)."""
        paragraph = self.paragraph(style=self.styles.title)
        paragraph.paragraph_format.page_break_before = page_break
        if page_break:
            paragraph.paragraph_format.space_before = Twips(PAGE_TITLE_DROP)
        for index, line in enumerate(titles.split_title(text, BLOCK_W / 25.4 * 72,
                                                        _title_width_pt)):
            run = paragraph.add_run()
            if index:
                run.add_break(WD_BREAK.LINE)
            run.add_text(line)

    def recipients(self, text: str) -> None:
        """主送机关: flush left, ending with a full-width colon."""
        self.paragraph(text.rstrip("：:") + "：", self.styles.plain)

    def blocks(self, blocks: Iterable[markup.Block]) -> None:
        """Lay out markup blocks; a block seen before in this document is copied, not rebuilt.

        A block's XML depends on the block alone, and a batch of letters repeats most of its
        blocks for every unit: copying the built elements is several times cheaper.
        """
        for block in blocks:
            cached = self._built.get(block)
            if cached is not None:
                oxml.append_to_body(self.doc, cached)
                continue
            before = oxml.body_length(self.doc)
            self.block(block)
            self._built[block] = oxml.body_since(self.doc, before)

    def block(self, block: markup.Block) -> None:
        if isinstance(block, markup.Heading):
            self.heading(block)
        elif isinstance(block, markup.Table):
            self.table(block)
        else:
            self.paragraph(block.text)

    def heading(self, heading: markup.Heading) -> None:
        if not heading.runs_in:
            self.paragraph(heading.number + heading.text, self.styles.headings[heading.level])
            return
        paragraph = self.paragraph()
        run = paragraph.add_run(breakable(heading.number + heading.text))
        oxml.apply_style(run._r, self.styles.heading_chars[heading.level])
        paragraph.add_run(breakable(heading.rest))

    def table(self, block: markup.Table) -> None:
        """A ruled data table (4号, header in 黑体) or an unruled layout table (3号)."""
        columns = len(block.rows[0])
        table = self.doc.add_table(rows=len(block.rows), cols=columns)
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        ruled = block.header
        if ruled:
            oxml.set_cell_margins(table, CELL_MARGIN_MM, CELL_MARGIN_MM)
            oxml.set_table_width(table, BLOCK_W, _fitted_widths(block.rows))
            oxml.repeat_header_row(table)
        else:  # a layout table (the letter's two parties): columns alike
            oxml.set_table_width(table, BLOCK_W, [BLOCK_W / columns] * columns)
        oxml.set_table_borders(table, 8 if ruled else 0, 4 if ruled else 0, vertical=ruled)
        last = len(block.rows) - 1
        for row_index, (row, cells) in enumerate(zip(block.rows, table.rows, strict=True)):
            for text, cell in zip(row, cells.cells, strict=True):
                paragraph = cell.paragraphs[0]
                oxml.apply_style(paragraph, self.styles.small if ruled else self.styles.plain)
                run = paragraph.add_run(breakable(text))
                if ruled:
                    paragraph.alignment = WD_PARAGRAPH_ALIGNMENT.CENTER
                    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
                    if row_index == 0:
                        oxml.set_fonts(run._r, self.faces[HEITI])
                elif row_index < last:  # a signature block stays on one page
                    oxml.keep_with_next(paragraph._p)

    def attachments_note(self, titles: list[str]) -> None:
        """附件说明: a blank line under the body, two characters in, numbered when several."""
        if not titles:
            return
        oxml.keep_last_with_next(self.doc)  # with the body's last line, see signature()
        self.blank()
        lead = Pt(2 * CHAR)
        for index, title in enumerate(titles, start=1):
            number = f"{index}." if len(titles) > 1 else ""
            text = ("附件：" if index == 1 else "") + number + title
            paragraph = self.paragraph(text, self.styles.plain)
            fmt = paragraph.paragraph_format
            fmt.keep_with_next = True
            # Later items and wrapped lines align with the first title, after 附件：.
            fmt.left_indent = Pt(lead.pt + 3 * CHAR + (len(number) * CHAR / 2 if number else 0))
            fmt.first_line_indent = Pt(-3 * CHAR if index == 1 else 0)
            if number:
                fmt.first_line_indent = Pt(fmt.first_line_indent.pt - len(number) * CHAR / 2)

    def signature(self, name: str, date_text: str) -> None:
        """Signature centred over the date; the date four characters from the right.

        GB/T 9704 7.3.5 wants the signature on a page with body text: the body's last
        paragraph (or the 附件说明), the blank line, the name and the date are kept together
        (keep-with-next). Word then moves only the paragraph's last lines to the next page;
        LibreOffice never splits a keep-with-next paragraph (sw's SwTextFrameBreak counts it
        as "keep"), so it moves the whole paragraph and the page before it ends short.
        """
        oxml.keep_last_with_next(self.doc)
        self.blank()
        self.doc.paragraphs[-1].paragraph_format.keep_with_next = True
        offset_pt = 4 * CHAR + max(0.0, (_width_pt(date_text) - _width_pt(name)) / 2)
        paragraph = self.paragraph(name, self.styles.signature)
        paragraph.paragraph_format.right_indent = Pt(offset_pt)
        paragraph.paragraph_format.keep_with_next = True
        date = self.paragraph(date_text, self.styles.signature)
        date.paragraph_format.right_indent = Pt(4 * CHAR)

    def note(self, text: str) -> None:
        """附注: under the date, two characters in, in parentheses."""
        self.paragraph(f"（{text.strip('（）()')}）")

    def appendix(self, index: int | None, title: str, blocks: list[markup.Block]) -> None:
        """An 附件 page: 附件N in 黑体 top left, its title on the third line, then its body."""
        label = self.paragraph("附件" + (str(index) if index else ""), self.styles.headings[1])
        label.paragraph_format.first_line_indent = Pt(0)
        label.paragraph_format.page_break_before = True
        self.blank()
        self.title(title)
        self.blank()
        self.blocks(blocks)

    def enclosed(self, title: str, blocks: list[markup.Block]) -> None:
        """The document a notice 印发s, from the top of a new page."""
        self.title(title, page_break=True)
        spacer = self.paragraph(style=self.styles.plain)
        spacer.paragraph_format.line_spacing = Twips(LINE_PITCH - PAGE_TITLE_DROP)
        spacer.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        oxml.set_snap_to_grid(spacer, False)
        self.blocks(blocks)

    def imprint(self, cc: list[str], printed_by: str, printed_on: str,
                placement: Placement = Placement.SAME_PAGE) -> None:
        """版记: 抄送 and 印发机关/印发日期 between full-width rules, floating at the page foot.

        ``placement`` says on which page (the body's last, the next, or after a blank page);
        pages in a section of their own carry no page number.

        The table floats at a fixed offset from the top margin, computed from its row heights
        so that its bottom rule lies on the text block's foot (262 mm). (Aligned to the bottom
        margin, which sits half a leading lower than the foot, it would end 2.3 mm short.)
        Each row is at least as high as the lines its text is estimated to need, erring
        towards one line more, so the table's height is the computed one.
        """
        if placement is Placement.AFTER_BLANK:
            self._unnumbered_section()
            self.paragraph(style=self.styles.plain)  # the blank page
        if placement is not Placement.SAME_PAGE:
            top = self.paragraph(style=self.styles.plain)
            top.paragraph_format.page_break_before = True
        cc_text = "抄送：" + "，".join(cc).rstrip("。") + "。" if cc else ""
        printed = f"{printed_by}\t{printed_on}印发"
        line_capacity = BLOCK_W / 25.4 * 72 - 2 * SMALL_PT  # 左右各空一字
        rows_pt = [_imprint_row_pt(printed, line_capacity, line_capacity)]
        if cc:
            rows_pt.insert(0, _imprint_row_pt(cc_text, line_capacity, line_capacity - 3 * SMALL_PT))
        table = self.doc.add_table(rows=len(rows_pt), cols=1)
        oxml.set_table_width(table, BLOCK_W, [BLOCK_W])
        oxml.set_cell_margins(table, 0, 0)
        oxml.set_table_borders(table, round(IMPRINT_OUTER_PT * 8), round(IMPRINT_INNER_PT * 8),
                               vertical=False)
        height_pt = sum(rows_pt) + 2 * IMPRINT_OUTER_PT + IMPRINT_INNER_PT * (len(rows_pt) - 1)
        margin_top = TOP - HALF_LEADING_MM
        oxml.float_table(table, LEFT, TOP + BLOCK_H - margin_top - height_pt * 25.4 / 72)
        for row, row_pt in zip(table.rows, rows_pt, strict=True):
            oxml.set_row_min_height(row, round(row_pt * 20))
        cells = [row.cells[0] for row in table.rows]
        if cc:
            self._imprint_line(cells[0].paragraphs[0], cc_text)
            cells[0].paragraphs[0].paragraph_format.first_line_indent = Pt(-3 * SMALL_PT)
            cells[0].paragraphs[0].paragraph_format.left_indent = Pt(4 * SMALL_PT)
        last = self._imprint_line(cells[-1].paragraphs[0], printed)
        # 印发日期 ends one character from the right, as the 抄送 line does (左右各空一字).
        last.paragraph_format.tab_stops.add_tab_stop(
            Mm(BLOCK_W) - Pt(SMALL_PT), WD_TAB_ALIGNMENT.RIGHT)
        # A floating table needs a paragraph after it; keep it one point high.
        anchor = self.paragraph(style=self.styles.plain)
        anchor.paragraph_format.line_spacing = Pt(1)
        anchor.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        oxml.set_snap_to_grid(anchor, False)

    def _unnumbered_section(self) -> None:
        """End the section at the body's last paragraph; the next one, from a new page, has
        empty footers (no extra paragraph, which could add a page of its own)."""
        oxml.end_section_at_last_paragraph(self.doc)
        section = self.doc.sections[-1]
        for footer in (section.footer, section.even_page_footer):
            footer.is_linked_to_previous = False
            for paragraph in footer.paragraphs:
                oxml.apply_style(paragraph, self.styles.footer)

    def _imprint_line(self, paragraph: Paragraph, text: str) -> Paragraph:
        oxml.apply_style(paragraph, self.styles.small)
        paragraph.add_run(text)
        fmt = paragraph.paragraph_format
        fmt.left_indent = fmt.right_indent = Pt(SMALL_PT)
        fmt.space_before = fmt.space_after = Pt(IMPRINT_PAD_PT)
        return paragraph

    # --- output ------------------------------------------------------------------------

    def save(self, path: object) -> None:
        self.doc.save(path)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.doc.save(buffer)
        return buffer.getvalue()


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
    over = _width_pt(text) - line
    if over <= 0:
        return None
    squeeze = (over + SQUEEZE_MARGIN_PT) / len(text)
    if squeeze > SQUEEZE_PT:
        return None
    return math.floor((CHAR_SPACING - squeeze) * 20) / 20  # whole twentieths, never looser


_KEEP_STYLES = {"Normal", "DefaultParagraphFont", "TableNormal", "NoList", "Header", "Footer"}


def _fitted_widths(rows: tuple[tuple[str, ...], ...]) -> list[float]:
    """Column widths (mm) of a data table: each as wide as its longest cell on one line.

    Space left over is shared equally; where the block is too narrow, the widest columns
    give way (they wrap) and the narrow ones keep their width.
    """
    natural = [max(_width_pt(row[index], SMALL_PT, 0) for row in rows) * 25.4 / 72
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


def _kind(char: str) -> str:
    """"wide" (Chinese), "narrow" (a digit or Latin letter) or "other" (spaces, punctuation)."""
    if _is_wide(char):
        return "wide"
    return "narrow" if char.isascii() and char.isalnum() else "other"


def _width_pt(text: str, size: float = BODY_PT, spacing: float = CHAR_SPACING) -> float:
    """Printed width of one line of text in points, about as LibreOffice sets it.

    Chinese characters are one em, digits and Latin letters about half (NARROW_EM), each
    plus the character spacing; every change between Chinese and a digit or Latin letter
    adds the automatic gap (AUTOSPACE_PT).
    """
    width = 0.0
    for index, char in enumerate(text):
        if char == "\t":
            continue
        width += (size if _is_wide(char) else NARROW_EM * size) + spacing
        if index and {_kind(char), _kind(text[index - 1])} == {"wide", "narrow"}:
            width += AUTOSPACE_PT
    return width


def _title_width_pt(text: str) -> float:
    """A title line's width: Chinese quotes are full-width there, as in the PDF."""
    return _width_pt(text.translate(_FULL_WIDTH_QUOTES), TITLE_PT, 0)


_FULL_WIDTH_QUOTES = str.maketrans("“”‘’", "国国国国")


def _imprint_row_pt(text: str, first_pt: float, later_pt: float) -> float:
    """A 版记 row's height: its lines, counted leaving 1.5 characters of room on each."""
    room = 1.5 * SMALL_PT
    width = _width_pt(text, SMALL_PT, 0) + (SMALL_PT if "\t" in text else 0)
    lines, capacity = 1, first_pt - room
    while width > capacity:
        width -= capacity
        lines, capacity = lines + 1, later_pt - room
    return 2 * IMPRINT_PAD_PT + lines * IMPRINT_LINE_PT


def _define_styles(document: Document, faces: Faces) -> Styles:
    styles = document.styles
    normal = styles["Normal"]
    oxml.set_fonts(normal, faces[FANGSONG])
    normal.font.size = Pt(BODY_PT)
    oxml.set_char_spacing(normal, CHAR_SPACING)

    def paragraph_style(name: str, font: str | None = None, size: float | None = None,
                        base: BaseStyle = normal) -> BaseStyle:
        style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = base
        style.quick_style = True
        if font:
            oxml.set_fonts(style, faces[font])
        if size:
            style.font.size = Pt(size)
        return style

    plain = paragraph_style("GW Plain")
    plain.paragraph_format.alignment = WD_PARAGRAPH_ALIGNMENT.JUSTIFY
    body = paragraph_style("GW Body", base=plain)
    oxml.set_first_line_chars(body, 2, round(2 * CHAR * 20))
    headings = {}
    for level, font in HEADING_FONTS.items():
        heading = paragraph_style(f"GW Heading {level}", font, base=body)
        heading.paragraph_format.keep_with_next = True
        headings[level] = heading
    heading_chars = {}
    for level, font in HEADING_FONTS.items():
        char_style = styles.add_style(f"GW Heading {level} Char", WD_STYLE_TYPE.CHARACTER)
        oxml.set_fonts(char_style, faces[font])
        heading_chars[level] = char_style
    title = _off_grid(paragraph_style("GW Title", XIAOBIAOSONG, TITLE_PT), LINE_PITCH)
    title.paragraph_format.alignment = WD_PARAGRAPH_ALIGNMENT.CENTER
    oxml.set_char_spacing(title, 0)
    mark = _off_grid(paragraph_style("GW Mark", XIAOBIAOSONG, MARK_PT), MARK_LINE)
    mark.paragraph_format.alignment = WD_PARAGRAPH_ALIGNMENT.CENTER
    mark.paragraph_format.space_before = Mm(MARK_SPACE_BEFORE_MM)
    mark.font.color.rgb = RED
    oxml.set_char_spacing(mark, 0)
    center = paragraph_style("GW Center", base=plain)
    center.paragraph_format.alignment = WD_PARAGRAPH_ALIGNMENT.CENTER
    signature = paragraph_style("GW Signature", base=plain)
    signature.paragraph_format.alignment = WD_PARAGRAPH_ALIGNMENT.RIGHT
    small = _off_grid(paragraph_style("GW Small", FANGSONG, SMALL_PT, base=plain),
                     IMPRINT_LINE_PT * 20)
    oxml.set_char_spacing(small, 0)
    footer = paragraph_style("GW Page Number", SONGTI, SMALL_PT, base=plain)
    oxml.set_char_spacing(footer, 0)
    return Styles(body=body, plain=plain, title=title, mark=mark, center=center,
                  signature=signature, small=small, headings=headings,
                  heading_chars=heading_chars, footer=footer)


def _off_grid(style: BaseStyle, line_twips: int) -> BaseStyle:
    """Off the line grid with an exact line height: a 22 pt line would take two grid lines."""
    oxml.set_snap_to_grid(style, False)
    style.paragraph_format.line_spacing = Twips(line_twips)
    style.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    return style

