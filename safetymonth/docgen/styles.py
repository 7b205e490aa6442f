"""The paragraph and character styles every official document uses, defined once per
document on its python-docx ``Document``."""

from __future__ import annotations

from dataclasses import dataclass

from docx.document import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_LINE_SPACING, WD_PARAGRAPH_ALIGNMENT
from docx.shared import Mm, Pt, Twips
from docx.styles.style import BaseStyle

from safetymonth.docgen import oxml
from safetymonth.docgen.fonts import FANGSONG, HEITI, KAITI, SONGTI, XIAOBIAOSONG, Faces
from safetymonth.docgen.geometry import (
    BODY_PT,
    CHAR,
    CHAR_SPACING,
    IMPRINT_LINE_PT,
    LINE_PITCH,
    MARK_LINE,
    MARK_PT,
    MARK_SPACE_BEFORE_MM,
    RED,
    SMALL_PT,
    TITLE_PT,
)

HEADING_FONTS = {1: HEITI, 2: KAITI, 3: FANGSONG, 4: FANGSONG}
# Built-in styles python-docx's template needs; the rest of its styles are pruned.
KEEP_STYLES = {"Normal", "DefaultParagraphFont", "TableNormal", "NoList", "Header", "Footer"}


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


def define_styles(document: Document, faces: Faces) -> Styles:
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
