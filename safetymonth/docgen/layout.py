"""GB/T 9704-2012 page layout over python-docx: the friendly layer docgen writes with.

:class:`OfficialDocument` owns one python-docx ``Document`` set up once (page, grid, styles,
footers) and appends the elements of an official document in order. Raw XML is left to
:mod:`safetymonth.docgen.oxml`.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Iterable, Sequence

import docx
from docx.document import Document
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_BREAK, WD_LINE_SPACING, WD_PARAGRAPH_ALIGNMENT, WD_TAB_ALIGNMENT
from docx.shared import Mm, Pt, Twips
from docx.styles.style import BaseStyle
from docx.text.paragraph import Paragraph
from lxml.etree import _Element

from safetymonth.docgen import markup, oxml, titles
from safetymonth.docgen.fonts import DEFAULT_FACES, FANGSONG, HEITI, Faces
from safetymonth.docgen.geometry import (
    BLOCK_H,
    BLOCK_W,
    BODY_PT,
    BOTTOM,
    CELL_MARGIN_MM,
    CHAR,
    FOOTER_MM,
    HALF_LEADING_MM,
    IMPRINT_INNER_PT,
    IMPRINT_OUTER_PT,
    IMPRINT_PAD_PT,
    LEFT,
    LINE_PITCH,
    MARK_PT,
    PAGE_H,
    PAGE_TITLE_DROP,
    PAGE_W,
    RIGHT,
    RULE_SPACE_PT,
    SMALL_PT,
    TOP,
)
from safetymonth.docgen.measure import (
    breakable,
    fitted_widths,
    imprint_row_pt,
    squeezed_spacing,
    title_width_pt,
    width_pt,
)
from safetymonth.docgen.styles import KEEP_STYLES, define_styles


class Placement(enum.Enum):
    """Where the 版记 goes (GB/T 9704 7.4: on the last side, an even page when printed
    double-sided; 7.5: a blank page before it, and it, carry no page number)."""

    SAME_PAGE = "same"  # at the foot of the page the body ends on
    NEXT_PAGE = "next"  # alone at the foot of the next page
    AFTER_BLANK = "blank"  # a blank page, then the 版记's page, neither numbered


class OfficialDocument:
    """One official document, built top to bottom."""

    def __init__(self, faces: Faces = DEFAULT_FACES) -> None:
        self.doc: Document = docx.Document()
        self.faces = faces
        oxml.drop_template_extras(self.doc)
        self._page_setup()
        self.styles = define_styles(self.doc, faces)
        self._built: dict[markup.Block, list[_Element]] = {}
        self._footers()
        oxml.prune_styles(self.doc, keep=KEEP_STYLES | {s.style_id for s in self._all_styles()})
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
                                                        title_width_pt)):
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
            oxml.set_table_width(table, BLOCK_W, fitted_widths(block.rows))
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
        offset_pt = 4 * CHAR + max(0.0, (width_pt(date_text) - width_pt(name)) / 2)
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
        rows_pt = [imprint_row_pt(printed, line_capacity, line_capacity)]
        if cc:
            rows_pt.insert(0, imprint_row_pt(cc_text, line_capacity, line_capacity - 3 * SMALL_PT))
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
