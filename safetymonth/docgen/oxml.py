"""Every raw OOXML tweak docgen needs, in one place.

python-docx has no API for East Asian fonts, the document grid, character spacing, paragraph
borders, floating tables or fields. Each function here takes a python-docx element (or proxy)
and edits its XML; the rest of docgen never touches ``w:`` tags directly.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping

from docx.document import Document
from docx.opc.part import Part
from docx.oxml import OxmlElement
from docx.oxml.ns import nsmap, qn
from docx.shared import Mm
from docx.styles.style import BaseStyle
from docx.table import Table, _Row
from docx.text.paragraph import Paragraph
from lxml import etree
from lxml.etree import _Element

from safetymonth.docgen.fonts import FontEntry

TWIPS_PER_MM = 1440 / 25.4


def twips(mm: float) -> int:
    return round(mm * TWIPS_PER_MM)


def _child(parent: _Element, tag: str, before: Iterable[str] = ()) -> _Element:
    """The ``tag`` child of ``parent``, created if missing (ahead of any ``before`` tag)."""
    found = parent.find(qn(tag))
    if found is not None:
        return found
    found = OxmlElement(tag)
    for name in before:
        successor = parent.find(qn(name))
        if successor is not None:
            successor.addprevious(found)
            return found
    parent.append(found)
    return found


def _set(element: _Element, **attributes: str | int) -> _Element:
    for name, value in attributes.items():
        element.set(qn(f"w:{name}"), str(value))
    return element


# Order matters to Word: rFonts and spacing must precede sz/color in w:rPr.
_RPR_AFTER_FONTS = ("w:b", "w:i", "w:caps", "w:strike", "w:color", "w:spacing", "w:sz",
                    "w:szCs", "w:lang")


def rpr_of(owner: BaseStyle | _Element) -> _Element:
    """The ``w:rPr`` of a style, run or docDefaults rPrDefault, created if missing."""
    element = owner.element if isinstance(owner, BaseStyle) else owner
    if element.tag == qn("w:rPr"):
        return element
    return _child(element, "w:rPr", before=("w:tblPr", "w:trPr", "w:tcPr", "w:t"))


def set_fonts(owner: BaseStyle | _Element, east_asia: str, western: str | None = None) -> None:
    """Name the font for Chinese (``eastAsia``) and for digits/Latin, dropping theme fonts.

    Theme attributes win over explicit names in Word, so they must go.
    """
    fonts = _child(rpr_of(owner), "w:rFonts", before=_RPR_AFTER_FONTS)
    for name in list(fonts.attrib):
        del fonts.attrib[name]
    western = western or east_asia
    _set(fonts, ascii=western, hAnsi=western, eastAsia=east_asia, cs=western, hint="eastAsia")


def east_asian_font(owner: BaseStyle | _Element) -> str | None:
    """The ``eastAsia`` font named directly on a style or run (not inherited)."""
    element = owner.element if isinstance(owner, BaseStyle) else owner
    fonts = element.find(f"{qn('w:rPr')}/{qn('w:rFonts')}")
    return None if fonts is None else fonts.get(qn("w:eastAsia"))


def set_char_spacing(owner: BaseStyle | _Element, points: float) -> None:
    """Extra space after each character (negative condenses): -0.25 pt gives 28 per line."""
    spacing = _child(rpr_of(owner), "w:spacing", before=_RPR_AFTER_FONTS[6:])
    _set(spacing, val=round(points * 20))


def set_chinese_language(owner: BaseStyle | _Element) -> None:
    """zh-CN line-breaking rules (no 。 at a line start) in both Word and LibreOffice."""
    _set(_child(rpr_of(owner), "w:lang"), val="en-US", eastAsia="zh-CN", bidi="ar-SA")


def set_doc_defaults(document: Document, font: str, size_pt: float) -> None:
    """Document-wide run and paragraph defaults, replacing python-docx's Calibri ones."""
    defaults = document.styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}")
    set_fonts(rpr, font)
    for tag in ("w:sz", "w:szCs"):
        _set(_child(rpr, tag, before=("w:lang",)), val=round(size_pt * 2))
    set_chinese_language(rpr)
    ppr = defaults.find(f"{qn('w:pPrDefault')}/{qn('w:pPr')}")
    for child in list(ppr):
        ppr.remove(child)
    # No widow control: it would move a line and leave a page at 21 lines.
    ppr.append(_set(OxmlElement("w:widowControl"), val=0))
    # LibreOffice reads overflowPunct the other way round: val=1 keeps a comma inside the
    # margin there, and it is also Word's default.
    ppr.append(_set(OxmlElement("w:overflowPunct"), val=1))
    # No extra space between Chinese and Latin letters or digits ("2016年5月30日", not
    # "2016 年 5 月 30 日"): Word and WPS add about a quarter em unless told. LibreOffice
    # ignores both on import; pdf.py switches its spacing off on the way to the PDF.
    ppr.append(_set(OxmlElement("w:autoSpaceDE"), val=0))
    ppr.append(_set(OxmlElement("w:autoSpaceDN"), val=0))
    ppr.append(_set(OxmlElement("w:spacing"), before=0, after=0, line=240, lineRule="auto"))


def set_doc_grid(section_owner: Document, line_pitch: int) -> None:
    """A line grid: every body line sits on a ``line_pitch``-twip grid, 22 to the page."""
    sect_pr = section_owner.sections[0]._sectPr
    grid = _child(sect_pr, "w:docGrid")
    for name in list(grid.attrib):
        del grid.attrib[name]
    _set(grid, type="lines", linePitch=line_pitch)


def _ppr(owner: BaseStyle | Paragraph | _Element) -> _Element:
    if isinstance(owner, Paragraph):
        return owner._p.get_or_add_pPr()
    element = owner.element if isinstance(owner, BaseStyle) else owner
    return element.get_or_add_pPr()


def set_snap_to_grid(owner: BaseStyle | Paragraph, snap: bool) -> None:
    """Off the grid, a paragraph keeps its own exact line height (titles, 版记, tables)."""
    ppr = _ppr(owner)
    element = _child(ppr, "w:snapToGrid", before=("w:spacing", "w:ind", "w:jc", "w:rPr"))
    _set(element, val=int(snap))


def set_first_line_chars(owner: BaseStyle | Paragraph, chars: int, twips_: int) -> None:
    """First-line indent in characters (Word/WPS) with the twips fallback (LibreOffice)."""
    ind = _child(_ppr(owner), "w:ind", before=("w:jc", "w:rPr"))
    _set(ind, firstLineChars=chars * 100, firstLine=twips_)


def set_bottom_border(owner: BaseStyle | Paragraph, color: str, eighths: int,
                      space_pt: int) -> None:
    """A rule under a paragraph as wide as the text block: the red rule under 发文字号."""
    ppr = _ppr(owner)
    borders = _child(ppr, "w:pBdr", before=("w:shd", "w:tabs", "w:spacing", "w:ind", "w:jc",
                                            "w:rPr"))
    _set(_child(borders, "w:bottom"), val="single", sz=eighths, space=space_pt, color=color)


def add_page_number(paragraph: Paragraph, before: str = "— ", after: str = " —") -> None:
    """``— N —``: a PAGE field between two em dashes, in the paragraph's own font."""
    paragraph.add_run(before)
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"),
                       ("end", None)):
        if kind:
            run._r.append(_set(OxmlElement("w:fldChar"), fldCharType=kind))
        elif text == " PAGE ":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)
        else:
            run._r.append(_text(text or ""))
    paragraph.add_run(after)


def _text(value: str) -> _Element:
    element = OxmlElement("w:t")
    element.set(qn("xml:space"), "preserve")
    element.text = value
    return element


def float_table(table: Table, x_mm: float, y_mm: float) -> None:
    """Float a table ``y_mm`` below the top margin of its page: the 版记 on the last page.

    LibreOffice silently places a full-width table inline when it is anchored to the margin;
    anchoring it horizontally to the page at ``x_mm`` keeps it floating.
    """
    tbl_pr = table._tbl.tblPr
    position = OxmlElement("w:tblpPr")
    _set(position, leftFromText=0, rightFromText=0, topFromText=0, bottomFromText=0,
         vertAnchor="margin", horzAnchor="page", tblpX=twips(x_mm), tblpY=twips(y_mm))
    tbl_pr.insert(1 if tbl_pr.find(qn("w:tblStyle")) is not None else 0, position)
    overlap = OxmlElement("w:tblOverlap")
    _set(overlap, val="never")
    position.addnext(overlap)


def set_table_width(table: Table, width_mm: float, columns_mm: list[float]) -> None:
    """Fixed layout: column widths as given, whatever the text."""
    tbl_pr = table._tbl.tblPr
    _set(_child(tbl_pr, "w:tblW", before=("w:jc", "w:tblBorders", "w:tblLayout",
                                           "w:tblCellMar", "w:tblLook")),
         w=twips(width_mm), type="dxa")
    _set(_child(tbl_pr, "w:tblLayout", before=("w:tblCellMar", "w:tblLook")), type="fixed")
    for column, width in zip(table.columns, columns_mm, strict=True):
        column.width = Mm(width)
        for cell in column.cells:
            cell.width = Mm(width)


def set_table_borders(table: Table, outer_eighths: int, inner_eighths: int,
                      vertical: bool) -> None:
    """Rules around and between rows; ``vertical`` adds the column rules of a grid table."""
    tbl_pr = table._tbl.tblPr
    borders = _child(tbl_pr, "w:tblBorders", before=("w:shd", "w:tblLayout", "w:tblCellMar",
                                                     "w:tblLook"))
    for child in list(borders):
        borders.remove(child)
    sides = [("top", outer_eighths), ("left", outer_eighths if vertical else 0),
             ("bottom", outer_eighths), ("right", outer_eighths if vertical else 0),
             ("insideH", inner_eighths), ("insideV", inner_eighths if vertical else 0)]
    for side, size in sides:
        element = OxmlElement(f"w:{side}")
        if size:
            _set(element, val="single", sz=size, space=0, color="000000")
        else:
            _set(element, val="nil")
        borders.append(element)


def set_cell_margins(table: Table, left_mm: float, right_mm: float) -> None:
    tbl_pr = table._tbl.tblPr
    margins = _child(tbl_pr, "w:tblCellMar", before=("w:tblLook",))
    for side, value in (("left", left_mm), ("right", right_mm)):
        _set(_child(margins, f"w:{side}"), w=twips(value), type="dxa")


def set_row_min_height(row: _Row, twips_: int) -> None:
    """A row at least ``twips_`` high (it still grows with its text)."""
    tr_pr = row._tr.get_or_add_trPr()
    height = _child(tr_pr, "w:trHeight", before=("w:tblHeader", "w:tblCellSpacing", "w:jc",
                                                 "w:hidden"))
    _set(height, val=twips_, hRule="atLeast")


def repeat_header_row(table: Table) -> None:
    tr_pr = table.rows[0]._tr.get_or_add_trPr()
    tr_pr.append(OxmlElement("w:tblHeader"))


def prune_styles(document: Document, keep: set[str]) -> None:
    """Drop the latent styles and every style not in ``keep`` (by style id), and every
    link, base or next-style reference to a dropped style.

    python-docx's template carries 160 styles and latent-style tables, 350 kB of XML that
    every saved letter would otherwise repeat.
    """
    styles = document.styles.element
    for element in list(styles):
        unused = element.tag == qn("w:style") and element.get(qn("w:styleId")) not in keep
        if element.tag == qn("w:latentStyles") or unused:
            styles.remove(element)
    for reference in styles.xpath("w:style/w:link | w:style/w:basedOn | w:style/w:next"):
        if reference.get(qn("w:val")) not in keep:
            reference.getparent().remove(reference)


def _part(document: Document, reltype_word: str) -> Part:
    return next(rel.target_part for rel in document.part.rels.values()
                if rel.reltype.endswith("/" + reltype_word))


def write_font_table(document: Document, entries: Mapping[str, FontEntry]) -> None:
    """fontTable.xml with exactly the faces the document uses (the template's go)."""
    fonts = etree.Element(qn("w:fonts"), nsmap={"w": nsmap["w"]})
    for name, entry in entries.items():
        font = etree.SubElement(fonts, qn("w:font"))
        font.set(qn("w:name"), name)
        _set(etree.SubElement(font, qn("w:altName")), val=entry.alt_name)
        if entry.panose:
            _set(etree.SubElement(font, qn("w:panose1")), val=entry.panose)
        _set(etree.SubElement(font, qn("w:charset")), val=entry.charset)
        _set(etree.SubElement(font, qn("w:family")), val=entry.family)
        _set(etree.SubElement(font, qn("w:pitch")), val=entry.pitch)
    _part(document, "fontTable")._blob = etree.tostring(
        fonts, xml_declaration=True, encoding="UTF-8", standalone=True)


def set_word_2013_mode(document: Document) -> None:
    """compatibilityMode 15 (no 兼容模式 in Word's title bar) and Chinese theme fonts' language."""
    settings = document.settings.element
    for setting in settings.iter(qn("w:compatSetting")):
        if setting.get(qn("w:name")) == "compatibilityMode":
            setting.set(qn("w:val"), "15")
    language = settings.find(qn("w:themeFontLang"))
    if language is not None:
        _set(language, val="en-US", eastAsia="zh-CN")


def set_theme_east_asian_fonts(document: Document, minor: str, major: str) -> None:
    """The theme's East Asian fonts (body: ``minor``, headings: ``major``), so that text
    falling back to the theme (Word's new paragraphs, WPS) is still in the document's faces."""
    part = _part(document, "theme")
    theme = etree.fromstring(part.blob)
    drawing = {"a": nsmap["a"]}
    for scheme, face in (("minorFont", minor), ("majorFont", major)):
        path = f".//a:{scheme}/a:ea | .//a:{scheme}/a:font[@script='Hans']"
        for element in theme.xpath(path, namespaces=drawing):
            element.set("typeface", face)
    part._blob = etree.tostring(theme, xml_declaration=True, encoding="UTF-8", standalone=True)


def drop_template_extras(document: Document) -> None:
    """Remove parts of python-docx's template that no official document needs.

    stylesWithEffects (440 kB, Word 2010 only), the customXml item and python-docx's own
    thumbnail would otherwise be copied into every generated file.
    """
    unwanted = ("stylesWithEffects", "customXml", "thumbnail")
    for rels in (document.part.rels, document.part.package.rels):
        for r_id, rel in list(rels.items()):
            if any(word in rel.reltype or word in str(rel.target_ref) for word in unwanted):
                del rels[r_id]


def _blocks_end(body: _Element) -> int:
    """The index of the body's section properties (always its last child), or its length."""
    return len(body) - 1 if len(body) and body[-1].tag == qn("w:sectPr") else len(body)


def body_length(document: Document) -> int:
    """How many block elements (paragraphs, tables) the body holds so far."""
    return _blocks_end(document.element.body)


def body_since(document: Document, start: int) -> list[_Element]:
    """Copies of the body's block elements from index ``start`` on (for append_to_body)."""
    body = document.element.body
    return [copy.deepcopy(element) for element in body[start:_blocks_end(body)]]


def append_to_body(document: Document, elements: Iterable[_Element]) -> None:
    """Append copies of ``elements`` at the end of the body, ahead of its section properties."""
    body = document.element.body
    end = _blocks_end(body)
    for offset, element in enumerate(elements):
        body.insert(end + offset, copy.deepcopy(element))


def keep_last_with_next(document: Document) -> None:
    """Keep the body's last block with the paragraph that follows it.

    A paragraph gets keep-with-next; a table gets it on every paragraph of its last row,
    which is how Word keeps a table's end with what follows.
    """
    body = document.element.body
    end = _blocks_end(body)
    if not end:
        return
    last = body[end - 1]
    if last.tag == qn("w:tbl"):
        rows = last.findall(qn("w:tr"))
        paragraphs = list(rows[-1].iter(qn("w:p"))) if rows else []
    else:
        paragraphs = [last] if last.tag == qn("w:p") else []
    for paragraph in paragraphs:
        keep_with_next(paragraph)


def keep_with_next(paragraph: _Element) -> None:
    """keepNext on a ``w:p``; written directly, as python-docx's setter costs a search of
    every possible sibling (it matters for a roster of letters)."""
    ppr = paragraph.get_or_add_pPr()
    if ppr.find(qn("w:keepNext")) is None:
        style = ppr.find(qn("w:pStyle"))
        ppr.insert(0 if style is None else 1, OxmlElement("w:keepNext"))


def end_section_at_last_paragraph(document: Document) -> None:
    """Make the body's last paragraph end a section; what follows starts a new one on a new
    page with the same page set-up, footers unlinked by the caller."""
    body = document.element.body
    last = body[_blocks_end(body) - 1]
    if last.tag != qn("w:p"):  # a table cannot carry a section break
        last = OxmlElement("w:p")
        body.insert(_blocks_end(body), last)
    ended = copy.deepcopy(document.sections[-1]._sectPr)
    ppr = last.get_or_add_pPr()
    ppr.append(ended)
    final = document.sections[-1]._sectPr
    for reference in final.findall(qn("w:footerReference")) + final.findall(
            qn("w:headerReference")):
        final.remove(reference)
    start = _child(final, "w:type", before=("w:pgSz",))
    _set(start, val="nextPage")


def remove_body_content(document: Document) -> None:
    """Empty the body but keep its section properties (reused when batching letters)."""
    body = document.element.body
    for child in list(body):
        if child.tag != qn("w:sectPr"):
            body.remove(child)


def apply_style(owner: Paragraph | _Element, style: BaseStyle) -> None:
    """Set a paragraph's (or run's) style by id.

    python-docx's ``paragraph.style = …`` scans every style to see whether it is the default;
    with thousands of paragraphs per batch that scan is most of the build time.
    """
    if isinstance(owner, Paragraph):
        owner._p.style = style.style_id
    else:
        owner.style = style.style_id
