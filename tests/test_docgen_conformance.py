"""GB/T 9704-2012 conformance, measured on PDFs that LibreOffice renders from our .docx.

The Weihai and Dehua notices (tests/data, copies of shared/examples) are generated and
converted once per session; every test measures the PDF with pdfplumber (positions in mm
from the top-left corner of the paper) or reads the .docx with python-docx.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import docx
import pdfplumber
import pytest
from docx.document import Document

from safetymonth.docgen import documents, models, oxml, pdf

DATA = Path(__file__).parent / "data"
MM = 72 / 25.4
EXAMPLES = {"weihai": "notice-weihai-2016.yaml", "dehua": "notice-dehua-2024.yaml"}
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


@dataclass
class Rendered:
    docx: Path
    pdf: Path
    data: models.Notice
    pages: list[list[Line]]  # text lines per page, top to bottom
    rules: list[list[tuple[float, float, float, tuple[float, ...]]]]  # (y, x0, x1, colour)


def _lines(page: pdfplumber.page.Page) -> list[Line]:
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


def _rules(page: pdfplumber.page.Page) -> list[tuple[float, float, float, tuple[float, ...]]]:
    """Horizontal rules (thin rects or lines) as (y mm, x0 mm, x1 mm, colour)."""
    found = []
    for shape in [*page.rects, *page.lines]:
        if shape["height"] < 2 and shape["width"] > 50 * MM:
            colour = shape.get("non_stroking_color") or shape.get("stroking_color") or ()
            found.append((round(shape["top"] / MM, 1), round(shape["x0"] / MM, 1),
                          round(shape["x1"] / MM, 1),
                          tuple(colour) if isinstance(colour, list | tuple) else (colour,)))
    return sorted(set(found))  # a rule may be drawn as a line and a rect at once


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    """Both notices as .docx and as PDF (one LibreOffice run for the two)."""
    folder = tmp_path_factory.mktemp("conformance")
    sources = {}
    for name, file in EXAMPLES.items():
        data = models.load(DATA / file, "notice")
        path = folder / f"{name}.docx"
        documents.build_notice(data).save(path)
        sources[name] = (path, data)
    pdfs = pdf.convert_cold([path for path, _ in sources.values()], folder)
    result = {}
    for (name, (path, data)), pdf_path in zip(sources.items(), pdfs, strict=True):
        with pdfplumber.open(pdf_path) as document:
            pages = [_lines(page) for page in document.pages]
            rules = [_rules(page) for page in document.pages]
            sizes = [(page.width / MM, page.height / MM) for page in document.pages]
        assert all(abs(w - 210) < 0.5 and abs(h - 297) < 0.5 for w, h in sizes), sizes
        result[name] = Rendered(path, pdf_path, data, pages, rules)
    return result


def _body(lines: list[Line]) -> list[Line]:
    """The lines inside the text block (no page number)."""
    return [line for line in lines if line.top < BLOCK_BOTTOM]


def _full_pages(doc: Rendered) -> list[list[Line]]:
    """Pages wholly of body text: not the first, not the last, no 22 pt title on them."""
    return [_body(lines) for lines in doc.pages[1:-1]
            if all(line.size == 16 for line in _body(lines))]


@pytest.fixture(params=list(EXAMPLES))
def doc(request: pytest.FixtureRequest, rendered: dict[str, Rendered]) -> Rendered:
    return rendered[request.param]


def test_pages_are_a4(rendered: dict[str, Rendered]) -> None:
    # The fixture has asserted every page's size; here: both documents have several pages.
    assert all(len(doc.pages) >= 3 for doc in rendered.values())


def test_body_left_edge_and_first_line_top(doc: Rendered) -> None:
    for lines in doc.pages[1:]:
        body = _body(lines)
        assert abs(min(line.x0 for line in body) - BLOCK_LEFT) <= 1, body[0]
        assert abs(body[0].top - BLOCK_TOP) <= 1, body[0]


def test_a_full_page_has_22_lines(doc: Rendered) -> None:
    pages = _full_pages(doc)
    assert pages, "no full page of body text"
    for body in pages:
        assert len(body) == 22, [line.text[:8] for line in body]
        pitch = (body[-1].top - body[0].top) / 21
        assert abs(pitch - 225 / 22) < 0.15


def test_a_full_line_has_28_characters(doc: Rendered) -> None:
    """Lines that start at the left edge, run to the right edge and hold only full-width
    characters (no digits or Latin, which are narrower) carry 28 characters."""
    counts = Counter(
        len(line.text) for lines in doc.pages for line in _body(lines)
        if line.size == 16 and abs(line.x0 - BLOCK_LEFT) < 0.5 and line.x1 > BLOCK_RIGHT - 3
        and all(ord(char) > 0x2E80 or char in "“”‘’—…" for char in line.text))
    assert counts, "no full line found"
    assert max(counts) == 28, counts
    assert counts.most_common(1)[0][0] == 28, counts
    right_edges = [line.x1 for lines in doc.pages for line in _body(lines)
                   if line.size == 16]
    assert max(right_edges) <= BLOCK_RIGHT + 0.5  # nothing hangs past the right margin


def test_title_is_22_pt_and_body_16_pt(doc: Rendered) -> None:
    first = _body(doc.pages[0])
    title_start = doc.data.title[:8]
    title = next(line for line in first if line.text.startswith(title_start))
    assert title.size == 22
    assert any("Bold" in font for font in title.fonts)  # 小标宋 maps to a bold Song face
    recipients = next(line for line in first if line.text.startswith(doc.data.recipients[:6]))
    assert recipients.size == 16
    sizes = Counter(line.size for lines in doc.pages[1:] for line in _body(lines))
    assert sizes.most_common(1)[0][0] == 16


def test_issuer_mark_is_red_and_35_mm_below_the_text_block(doc: Rendered) -> None:
    mark = _body(doc.pages[0])[0]
    assert mark.text == doc.data.issuer_mark
    assert mark.colors == {(1.0, 0.0, 0.0)}
    assert abs(mark.top - (BLOCK_TOP + 35)) <= 1, mark.top
    assert abs((mark.x0 + mark.x1) / 2 - (BLOCK_LEFT + BLOCK_RIGHT) / 2) < 1  # centred


def test_red_rule_spans_the_text_block_under_the_number(doc: Rendered) -> None:
    lines = _body(doc.pages[0])
    red = [rule for rule in doc.rules[0] if rule[3][:3] == (1.0, 0.0, 0.0)]
    assert len(red) == 1, doc.rules[0]
    y, x0, x1, _ = red[0]
    assert abs(x0 - BLOCK_LEFT) < 1 and abs(x1 - BLOCK_RIGHT) < 1
    title = next(line for line in lines if line.size == 22)
    assert lines[0].bottom < y < title.top
    if doc.data.number:
        number = next(line for line in lines if line.text == doc.data.number)
        assert 2 <= y - number.bottom <= 6  # about 4 mm under the 发文字号


def test_page_numbers_alternate_sides(doc: Rendered) -> None:
    for index, lines in enumerate(doc.pages, start=1):
        footer = [line for line in lines if line.top > BLOCK_BOTTOM]
        assert len(footer) == 1, footer
        number = footer[0]
        assert number.text == f"—{index}—"
        assert number.size == 14
        assert BLOCK_BOTTOM + 4 < number.top < BLOCK_BOTTOM + 10  # about 7 mm under the block
        if index % 2:
            assert abs(number.x1 - (BLOCK_RIGHT - 14 / MM)) < 1.5, number  # right, 1 char in
        else:
            assert abs(number.x0 - (BLOCK_LEFT + 14 / MM)) < 1.5, number  # left, 1 char in


def test_page_numbers_have_spaces_inside_the_dashes(rendered: dict[str, Rendered]) -> None:
    with pdfplumber.open(rendered["weihai"].pdf) as document:
        page = document.pages[0]
        chars = [c for c in page.chars if c["top"] / MM > BLOCK_BOTTOM and c["text"].strip()]
    dash, digit = chars[0], chars[1]
    assert dash["text"] == "—" and digit["text"] == "1"
    assert digit["x0"] - dash["x1"] > 2  # "— 1 —", a space each side


def test_imprint_at_the_foot_of_the_last_page(doc: Rendered) -> None:
    last = _body(doc.pages[-1])
    printed_by = doc.data.printed_by or doc.data.issuer
    imprint = last[-1]
    assert imprint.text.startswith(printed_by)
    assert imprint.text.endswith(models.cn_date(doc.data.printed_on or doc.data.date) + "印发")
    assert imprint.size == 14
    rules = [rule for rule in doc.rules[-1] if rule[3][:3] != (1.0, 0.0, 0.0)]
    assert len(rules) >= 2
    bottom = max(rule[0] for rule in rules)
    assert abs(bottom - BLOCK_BOTTOM) < 3, bottom  # the last rule sits on the block's foot
    assert imprint.top > BLOCK_BOTTOM - 15
    assert all(abs(rule[1] - BLOCK_LEFT) < 1 and abs(rule[2] - BLOCK_RIGHT) < 1
               for rule in rules)  # full width
    # On the last page only: no other page carries 印发.
    assert not any("印发" in line.text and line.size == 14
                   for lines in doc.pages[:-1] for line in lines)


def test_signature_and_date_on_one_page(doc: Rendered) -> None:
    date_text = models.cn_date(doc.data.date)
    assert re.fullmatch(r"\d{4}年[1-9]\d?月[1-9]\d?日", date_text)
    hits = [(page, index) for page, lines in enumerate(doc.pages)
            for index, line in enumerate(lines) if line.text == date_text]
    assert len(hits) == 1
    page, index = hits[0]
    signature = doc.pages[page][index - 1]
    assert signature.text == (doc.data.signature or doc.data.issuer)
    assert signature.x1 < BLOCK_RIGHT - 20  # right side, not flush: centred over the date
    assert doc.pages[page][index].x1 == pytest.approx(BLOCK_RIGHT - 4 * 15.75 / MM, abs=1.5)


def test_headings_use_their_fonts_in_the_pdf(rendered: dict[str, Rendered]) -> None:
    lines = [line for lines in rendered["weihai"].pages for line in lines]
    level1 = next(line for line in lines if line.text.startswith("一、"))
    level2 = next(line for line in lines if line.text.startswith("（一）"))
    run_in = next(line for line in lines if line.text.startswith("（一）加强领导"))
    assert all("Sans" in font for font in level1.fonts)  # 黑体
    assert all("Kai" in font for font in level2.fonts)  # 楷体
    assert len(run_in.fonts) == 2  # heading part in 楷体, the rest in the body font


def _style_font(document: Document, style_id: str) -> str | None:
    """The East Asian font a style names, following its basedOn chain."""
    style = next(s for s in document.styles if s.style_id == style_id)
    while style is not None:
        font = oxml.east_asian_font(style)
        if font:
            return font
        style = style.base_style
    return None


def test_docx_names_the_standard_fonts(rendered: dict[str, Rendered]) -> None:
    document = docx.Document(str(rendered["weihai"].docx))
    by_text = {p.text: p for p in document.paragraphs if p.text}
    mark = by_text["威海市民政局文件"]
    assert _style_font(document, mark.style.style_id) == "方正小标宋简体"
    assert mark.style.font.color.rgb == docx.shared.RGBColor(0xFF, 0, 0)
    title = next(p for p in document.paragraphs if p.text.startswith("威海市民政局关于印发"))
    assert _style_font(document, title.style.style_id) == "方正小标宋简体"
    assert title.style.font.size.pt == 22
    heading1 = next(p for p in document.paragraphs if p.text.startswith("一、"))
    assert _style_font(document, heading1.style.style_id) == "黑体"
    heading2 = next(p for p in document.paragraphs if p.text == "（一）动员部署")
    assert _style_font(document, heading2.style.style_id) == "楷体_GB2312"
    body = next(p for p in document.paragraphs if p.text.startswith("现将"))
    assert _style_font(document, body.style.style_id) == "仿宋_GB2312"
    run_in = next(p for p in document.paragraphs if p.text.startswith("（一）加强领导"))
    assert _style_font(document, run_in.runs[0].style.style_id) == "楷体_GB2312"
    assert run_in.runs[1].style.style_id == "DefaultParagraphFont"
    footer = document.sections[0].footer.paragraphs[0]
    assert _style_font(document, footer.style.style_id) == "宋体"
    assert footer.style.font.size.pt == 14
    assert document.settings.odd_and_even_pages_header_footer


def test_docx_page_setup(rendered: dict[str, Rendered]) -> None:
    document = docx.Document(str(rendered["dehua"].docx))
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert round(section.left_margin.mm) == 28 and round(section.right_margin.mm) == 26
    block = section.page_height.mm - section.top_margin.mm - section.bottom_margin.mm
    assert block == pytest.approx(225, abs=0.2)
    grid = section._sectPr.find(docx.oxml.ns.qn("w:docGrid"))
    assert grid.get(docx.oxml.ns.qn("w:type")) == "lines"
    assert grid.get(docx.oxml.ns.qn("w:linePitch")) == "579"
