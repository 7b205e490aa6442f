"""PDF fidelity (issue 22, part 7): the title in a Simplified Chinese face, and no space
between Chinese characters and digits, measured with pdfplumber on LibreOffice's PDFs, one file
and a batch, each from one LibreOffice start, and the older two-start way through flat ODF;
the .docx says the same to Word and WPS."""

from __future__ import annotations

import itertools
import re
import statistics
import subprocess
from pathlib import Path

import docx
import pdfplumber
import pytest
from docx.oxml.ns import qn
from lxml import etree

from safetymonth import docgen
from safetymonth.docgen import models, pdf

DATA = Path(__file__).parents[1] / "data"
# Simplified Chinese faces a 小标宋 may come out in: FandolSong is a GB font of the CTeX
# project, and Noto's "sc" faces are its Simplified Chinese ones. (Noto CJK in Debian's .ttc
# names every face NotoSerifCJKjp in the PDF, whatever glyphs it used.)
SIMPLIFIED_BOLD_SONG = {"FandolSong-Bold", "NotoSerifCJKsc-Bold"}
WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">(.*?)</word>')


def _is_chinese(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def _rows(page: pdfplumber.page.Page) -> list[list[dict]]:
    """The page's characters by line, left to right (a line: tops within 1.5 pt)."""
    rows: dict[float, list[dict]] = {}
    for char in page.chars:
        key = next((top for top in rows if abs(top - char["top"]) < 1.5), char["top"])
        rows.setdefault(key, []).append(char)
    return [sorted(chars, key=lambda char: char["x0"]) for _, chars in sorted(rows.items())]


def boundary_gaps(chars: list[dict], text: str) -> list[float]:
    """Space at each boundary between a Chinese character and a digit (either way round)
    inside ``text`` on the line ``chars``, beyond the line's usual space between two Chinese
    characters (which justification may widen), in pt."""
    pairs = list(itertools.pairwise(chars))
    usual = [b["x0"] - a["x1"] for a, b in pairs if _is_chinese(a["text"])
             and _is_chinese(b["text"])]
    base = statistics.median(usual) if usual else 0.0
    line = "".join(char["text"] for char in chars)
    start = line.index(text)
    inside = pairs[start:start + len(text) - 1]
    return [b["x0"] - a["x1"] - base for a, b in inside
            if (_is_chinese(a["text"]) and b["text"].isdigit())
            or (a["text"].isdigit() and _is_chinese(b["text"]))]


def lines_with(path: Path, text: str) -> list[tuple[int, list[dict]]]:
    """(page number from 1, characters) of every line whose text contains ``text``."""
    found = []
    with pdfplumber.open(path) as document:
        for number, page in enumerate(document.pages, start=1):
            found += [(number, chars) for chars in _rows(page)
                      if text in "".join(char["text"] for char in chars)]
    return found


@pytest.fixture(scope="module")
def notice(tmp_path_factory: pytest.TempPathFactory) -> tuple[models.Notice, Path]:
    """The Weihai notice as generate makes it, and its PDF from one cold conversion."""
    folder = tmp_path_factory.mktemp("fidelity")
    data = models.load(DATA / "notice-weihai-2016.yaml", "notice")
    source = folder / "notice.docx"
    docgen.build(data).save(source)
    return data, pdf.convert_cold([source], folder)[0]


@pytest.mark.libreoffice
def test_title_is_set_in_a_simplified_chinese_bold_song(
        notice: tuple[models.Notice, Path]) -> None:
    data, made = notice
    with pdfplumber.open(made) as document:
        title = [char for char in document.pages[0].chars
                 if char["size"] > 20 and char["text"] in data.title]
    assert len(title) >= 20  # the title's two lines (22 pt), not the 红头 only
    faces = {char["fontname"].partition("+")[2] for char in title}
    assert faces <= SIMPLIFIED_BOLD_SONG, faces


@pytest.mark.libreoffice
def test_dates_and_numbers_have_no_space_around_their_digits(
        notice: tuple[models.Notice, Path]) -> None:
    """The signature's date, the 发文字号 and the 版记's 印发日期: 2016年5月30日, as typed;
    and the 版记 is still on an even page."""
    data, made = notice
    texts = [models.cn_date(data.date), f"{models.cn_date(data.printed_on or data.date)}印发",
             "〔2016〕64号"]
    gaps = []
    for text in texts:
        found = lines_with(made, text)
        assert len(found) == 1, (text, found)
        gaps += boundary_gaps(found[0][1], text)
    assert len(gaps) >= 5 * 2 + 1  # 6年 年5 5月 月3 0日 (or 1日) twice, 4号
    assert max(gaps) <= 0.5, gaps
    imprint_page = lines_with(made, "印发")[-1][0]
    with pdfplumber.open(made) as document:
        assert imprint_page == len(document.pages)
    assert imprint_page % 2 == 0


@pytest.mark.libreoffice
@pytest.mark.slow
def test_a_batch_from_one_start_has_no_space_either(tmp_path: Path) -> None:
    """Letters converted together share one LibreOffice; their term's dates, and the digits
    in their targets table's cells, unspaced too."""
    data = models.load(DATA / "letters-2024.yaml", "letter")
    two = data.model_copy(update={"units": data.units[:2]})
    paths = docgen.generate(two, tmp_path)
    made = pdf.to_pdf(paths, tmp_path / "pdf")
    assert [path.name for path in made] == [f"{path.stem}.pdf" for path in paths]
    start, end = models.cn_date(data.term.start), models.cn_date(data.term.end)
    for path in made:
        lines = lines_with(path, "有效期自")
        assert lines, path
        text = "".join(char["text"] for char in lines[0][1])
        assert f"自{start}起至{end[:5]}" in text
        gaps = boundary_gaps(lines[0][1], f"自{start}起")
        assert len(gaps) >= 6, text  # 自2 4年 年1 1月 月1 1日 (then 起)
        assert max(gaps) <= 0.5, gaps
        # In the targets table's cells too: 率1 (…100%) and 于9 (…95%).
        cell = lines_with(path, "整改率100%")
        assert cell, path
        gaps = boundary_gaps(cell[0][1], "整改率100%") + boundary_gaps(cell[0][1], "不低于95%")
        assert len(gaps) == 2 and max(gaps) <= 0.5, gaps


@pytest.mark.libreoffice
@pytest.mark.slow
def test_the_two_start_way_without_uno_has_no_space_either(
        tmp_path: Path, notice: tuple[models.Notice, Path]) -> None:
    """Where no interpreter can import uno: .docx → flat ODF → PDF, in two soffice runs; the
    same dates come out unspaced, every word where the one-start PDF has it."""
    data, one_start = notice
    source = tmp_path / "notice.docx"
    docgen.build(data).save(source)
    made = pdf.convert_cold([source], tmp_path / "two", one_start=False)[0]
    found = lines_with(made, models.cn_date(data.date))
    assert len(found) == 1
    gaps = boundary_gaps(found[0][1], models.cn_date(data.date))
    assert len(gaps) >= 5 and max(gaps) <= 0.5, gaps
    assert pdf_words(made) == pdf_words(one_start)


def pdf_words(path: Path) -> list[list[tuple[str, float, float]]]:
    """Each page's words with their left and top edges rounded to 0.1 pt (poppler's
    pdftotext -bbox, a reader independent of pdfplumber and of LibreOffice)."""
    out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return [[(word, round(float(left), 1), round(float(top), 1))
             for left, top, word in WORD.findall(page)] for page in out.split("<page ")[1:]]


def test_the_docx_tells_word_and_wps_not_to_space_chinese_from_digits(tmp_path: Path) -> None:
    """docDefaults' paragraph properties switch off autoSpaceDE and autoSpaceDN, which Word
    and WPS otherwise apply to every paragraph; no style switches them back on."""
    path = tmp_path / "notice.docx"
    docgen.build(models.load(DATA / "notice-weihai-2016.yaml", "notice"),
                 options=docgen.Options(imprint_on_even_page=False)).save(path)
    styles = docx.Document(str(path)).styles.element
    defaults = styles.find(f"{qn('w:docDefaults')}/{qn('w:pPrDefault')}/{qn('w:pPr')}")
    for tag in ("w:autoSpaceDE", "w:autoSpaceDN"):
        element = defaults.find(qn(tag))
        assert element is not None and element.get(qn("w:val")) == "0", tag
        assert not styles.xpath(f".//w:style//{tag}[not(@w:val='0')]")
    order = [child.tag for child in defaults]
    assert order.index(qn("w:overflowPunct")) < order.index(qn("w:autoSpaceDE")) \
        < order.index(qn("w:autoSpaceDN")) < order.index(qn("w:spacing"))  # schema order


def test_flat_odf_is_told_no_autospace_where_a_style_or_the_default_says_nothing(
        tmp_path: Path) -> None:
    """switch_off turns every paragraph style's autospace off, and says it on the default
    paragraph style where LibreOffice wrote nothing (Writer's default is on)."""
    from safetymonth.docgen import autospace

    style = autospace.STYLE
    flat = tmp_path / "doc.fodt"
    flat.write_text(
        f'<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        f'xmlns:style="{style}"><office:styles>'
        f'<style:default-style style:family="paragraph"/>'
        f'<style:style style:name="P"><style:paragraph-properties '
        f'style:text-autospace="ideograph-alpha" style:line-break="strict"/></style:style>'
        f'</office:styles></office:document>', encoding="utf-8")
    autospace.switch_off(flat)
    tree = etree.parse(str(flat))
    said = {element.getparent().get(f"{{{style}}}family") or
            element.getparent().get(f"{{{style}}}name"): element.get(f"{{{style}}}text-autospace")
            for element in tree.iter(f"{{{style}}}paragraph-properties")}
    assert said == {"paragraph": "none", "P": "none"}
    assert tree.find(f".//{{{style}}}paragraph-properties[@{{{style}}}line-break]") is not None
