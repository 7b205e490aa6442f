"""GB/T 9704-2012 conformance, measured on PDFs that LibreOffice renders from our .docx.

The Weihai and Dehua notices (tests/data, copies of shared/examples) are generated and
converted once per session; every test measures the PDF with pdfplumber (positions in mm
from the top-left corner of the paper) or reads the .docx with python-docx.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import docx
import pdfplumber
import pytest
import yaml
from docx.document import Document

from safetymonth import docgen
from safetymonth.docgen import documents, models, oxml, pdf
from tests.support.pdf_lines import (
    BLOCK_BOTTOM,
    BLOCK_LEFT,
    BLOCK_RIGHT,
    BLOCK_TOP,
    MM,
    Line,
    page_lines,
    page_rules,
    pdf_pages,
)

pytestmark = pytest.mark.libreoffice  # every case measures a PDF LibreOffice made

DATA = Path(__file__).parents[1] / "data"
EXAMPLES = {"weihai": "notice-weihai-2016.yaml", "dehua": "notice-dehua-2024.yaml"}


@dataclass
class Rendered:
    docx: Path
    pdf: Path
    data: models.Notice
    pages: list[list[Line]]  # text lines per page, top to bottom
    rules: list[list[tuple[float, float, float, tuple[float, ...]]]]  # (y, x0, x1, colour)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    """Both notices as .docx and as PDF (one LibreOffice run for the two)."""
    folder = tmp_path_factory.mktemp("conformance")
    sources = {}
    for name, file in EXAMPLES.items():
        data = models.load(DATA / file, "notice")
        path = folder / f"{name}.docx"
        docgen.build(data).save(path)
        sources[name] = (path, data)
    pdfs = pdf.convert_cold([path for path, _ in sources.values()], folder)
    result = {}
    for (name, (path, data)), pdf_path in zip(sources.items(), pdfs, strict=True):
        with pdfplumber.open(pdf_path) as document:
            pages = [page_lines(page) for page in document.pages]
            rules = [page_rules(page) for page in document.pages]
            sizes = [(page.width / MM, page.height / MM) for page in document.pages]
        assert all(abs(w - 210) < 0.5 and abs(h - 297) < 0.5 for w, h in sizes), sizes
        result[name] = Rendered(path, pdf_path, data, pages, rules)
    return result


def _body(lines: list[Line]) -> list[Line]:
    """The lines inside the text block (no page number)."""
    return [line for line in lines if line.top < BLOCK_BOTTOM]


def _full_pages(doc: Rendered) -> list[list[Line]]:
    """Pages wholly of body text that runs to the foot of the block: not the first, not the
    last, no 22 pt title on them. (A page can end short where a paragraph moved on whole,
    kept with the signature.)"""
    return [_body(lines) for lines in doc.pages[1:-1]
            if all(line.size == 16 for line in _body(lines))
            and _body(lines)[-1].bottom > BLOCK_BOTTOM - 225 / 22]


@pytest.fixture(params=list(EXAMPLES))
def doc(request: pytest.FixtureRequest, rendered: dict[str, Rendered]) -> Rendered:
    return rendered[request.param]


def test_pages_are_a4(rendered: dict[str, Rendered]) -> None:
    # The fixture has asserted every page's size; here: both documents have several pages.
    assert all(len(doc.pages) >= 3 for doc in rendered.values())


def test_body_left_edge_and_first_line_top(doc: Rendered) -> None:
    for lines in doc.pages[1:]:
        body = _body(lines)
        if all(line.size == 14 for line in body):
            continue  # the 版记 alone on the last page
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
        assert abs(y - number.bottom - 4) <= 1, y - number.bottom  # 4 mm under the 发文字号


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
    assert abs(bottom - BLOCK_BOTTOM) <= 1, bottom  # the last rule sits on the block's foot
    assert imprint.top > BLOCK_BOTTOM - 15
    assert all(abs(rule[1] - BLOCK_LEFT) < 1 and abs(rule[2] - BLOCK_RIGHT) < 1
               for rule in rules)  # full width
    # On the last page only: no other page carries 印发.
    assert not any("印发" in line.text and line.size == 14
                   for lines in doc.pages[:-1] for line in lines)


def test_imprint_lines_keep_one_character_from_each_side(doc: Rendered) -> None:
    """抄送 and 印发机关 start one 4号 character in; 印发日期 ends one character from the
    right edge (左右各空一字)."""
    imprint = _body(doc.pages[-1])[-1]
    one = 14 / MM
    assert abs(imprint.x0 - (BLOCK_LEFT + one)) <= 1, imprint.x0
    assert abs(BLOCK_RIGHT - imprint.x1 - one) <= 1, BLOCK_RIGHT - imprint.x1


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
    assert level2.fonts == {"FandolKai-Regular"}  # 楷体
    assert run_in.fonts == {"FandolKai-Regular", "FandolFang-Regular"}  # 楷体 heading, 仿宋 rest


def test_body_is_set_in_a_fangsong_face(doc: Rendered) -> None:
    """pdffonts (poppler) lists FandolFang and FandolKai, embedded; every line of body text
    (16 pt, not a heading) is in FandolFang."""
    listing = subprocess.run(["pdffonts", str(doc.pdf)], capture_output=True, text=True,
                             check=True).stdout
    embedded = {row.split()[0].partition("+")[2]: row.split()[-5] for row in
                listing.splitlines()[2:]}
    assert embedded.get("FandolFang-Regular") == "yes", listing
    body = [line for lines in doc.pages for line in _body(lines) if line.size == 16
            and not re.match(r"[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）", line.text)
            and not line.text.startswith(doc.data.issuer)]
    assert len(body) > 50
    ruled = [line for line in body if line.fonts == {"FandolFang-Regular"}]
    assert len(ruled) == len(body), [line.text for line in body if line not in ruled][:5]


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


# --- the closing of a document: signature with body text, centred over its date ------------

UNITS = ["德化县社会福利中心", "德化县浔中镇敬老院", "德化县儿童福利院", "德化县救助管理站",
         "德化县殡仪馆"]
# One-line paragraphs, as many as put the body's end on the last lines of page 2: there the
# blank line, the signature and the date no longer fit under it.
ONE_LINERS = range(26, 31)
LONG_CC = ["泉州市民政局", "德化县人民政府办公室", "德化县安全生产委员会办公室",
           "德化县应急管理局", "德化县消防救援大队", "德化县市场监督管理局", "德化县卫生健康局",
           "德化县住房和城乡建设局", "德化县各乡镇人民政府"]


def _intake_row(index: int, name: str) -> dict:
    return {"name": name, "submissions": 1 + index % 2, "documents_ok": 1,
            "photos_ok": 5 + index, "photos_failed": index % 3, "videos_ok": 1,
            "videos_failed": 0, "complete": index == 0, "last_submission": None}


@pytest.fixture(scope="session")
def closings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, object]]:
    """PDFs whose signature falls near a page end, and a notice with a long 抄送 list: the
    shipped summary with an intake table of five units, and Dehua notices whose bodies are
    26 to 30 one-line paragraphs (one LibreOffice run)."""
    folder = tmp_path_factory.mktemp("closings")
    sources: dict[str, tuple[Path, object]] = {}
    summary = models.load(DATA / "summary-2024.yaml", "summary")
    rows = [_intake_row(index, name) for index, name in enumerate(UNITS)]
    sources["summary"] = (folder / "summary.docx", summary)
    documents.build_summary(summary, rows).save(sources["summary"][0])
    raw = yaml.safe_load((DATA / "notice-dehua-2024.yaml").read_text(encoding="utf-8"))
    del raw["note"]
    for count in ONE_LINERS:
        body = "\n\n".join(f"第{index}项工作按计划推进。" for index in range(1, count + 1))
        notice = models.parse(raw | {"body": body}, "notice")
        sources[f"lines{count}"] = (folder / f"lines{count}.docx", notice)
        documents.build_notice(notice).save(sources[f"lines{count}"][0])
    notice = models.parse(raw | {"cc": LONG_CC}, "notice")
    sources["cc"] = (folder / "cc.docx", notice)
    documents.build_notice(notice).save(sources["cc"][0])
    pdfs = pdf.convert_cold([path for path, _ in sources.values()], folder)
    return {name: (made, data) for (name, (_, data)), made in zip(sources.items(), pdfs,
                                                                  strict=True)}


def _closing(pages: list[list[Line]], data: models.Notice | models.Summary
             ) -> tuple[int, int, Line, Line]:
    """(page, index of the signature line, signature, date)."""
    date_text = models.cn_date(data.date)
    page, index = next((page, index) for page, lines in enumerate(pages)
                       for index, line in enumerate(lines) if line.text == date_text)
    signature = pages[page][index - 1]
    assert signature.text == (data.signature or data.issuer)
    return page, index - 1, signature, pages[page][index]


def test_signature_shares_its_page_with_body_text(
        closings: dict[str, tuple[Path, object]], rendered: dict[str, Rendered]) -> None:
    """GB/T 9704 7.3.5: never a page with the signature and no body text above it."""
    cases = {name: (pdf_pages(path), data) for name, (path, data) in closings.items()}
    cases |= {name: (doc.pages, doc.data) for name, doc in rendered.items()}
    signature_pages = set()
    for name, (pages, data) in cases.items():
        page, index, signature, _ = _closing(pages, data)
        above = [line for line in pages[page][:index]
                 if line.size == 16 and line.x0 < BLOCK_LEFT + 2 * 16 / MM + 1]
        assert above, f"{name}: page {page + 1} holds the signature but no body text"
        assert signature.top - above[-1].bottom < 2 * 225 / 22 + 1, name  # one blank line
        if name.startswith("lines"):
            signature_pages.add(page)
    # The one-line bodies straddle the page end: some sign on page 2, the rest on page 3.
    assert signature_pages == {1, 2}, signature_pages


def test_signature_is_centred_over_the_date(
        closings: dict[str, tuple[Path, object]], rendered: dict[str, Rendered]) -> None:
    cases = {name: (pdf_pages(path), data) for name, (path, data) in closings.items()}
    cases |= {name: (doc.pages, doc.data) for name, doc in rendered.items()}
    for name, (pages, data) in cases.items():
        _, _, signature, date = _closing(pages, data)
        offset = (signature.x0 + signature.x1) / 2 - (date.x0 + date.x1) / 2
        assert abs(offset) <= 1.5, (name, offset)
        assert date.x1 == pytest.approx(BLOCK_RIGHT - 4 * 15.75 / MM, abs=1)  # 右空四字


def test_imprint_with_a_long_cc_list_still_ends_on_the_foot(
        closings: dict[str, tuple[Path, object]]) -> None:
    path, _ = closings["cc"]
    with pdfplumber.open(path) as document:
        last = document.pages[-1]
        lines, rules = page_lines(last), page_rules(last)
    imprint = [line for line in _body(lines) if line.size == 14]
    assert imprint[0].text.startswith("抄送：泉州市民政局")
    assert len(imprint) >= 3  # the list wraps: at least two 抄送 lines and the 印发 line
    assert "德化县各乡镇人民政府。" in "".join(line.text for line in imprint)
    colon = 14 / MM * 4  # later 抄送 lines align with the first name, after 抄送：
    assert all(abs(line.x0 - (BLOCK_LEFT + colon)) <= 1 for line in imprint[1:-1]), imprint
    assert abs(max(rule[0] for rule in rules) - BLOCK_BOTTOM) <= 1, rules
    assert imprint[-1].bottom < BLOCK_BOTTOM
