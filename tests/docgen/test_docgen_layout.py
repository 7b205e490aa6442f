"""What a clerk sees on the printed page, measured on LibreOffice PDFs: title breaks, no
stretched lines, the 上行文 header, the summary's table, the letter's signature block."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pdfplumber
import pytest
import yaml

from safetymonth import docgen
from safetymonth.docgen import documents, geometry, measure, models, pdf, titles
from tests.support.pdf_lines import (
    BLOCK_BOTTOM,
    BLOCK_LEFT,
    BLOCK_RIGHT,
    MM,
    Line,
    page_lines,
    page_rules,
)

pytestmark = pytest.mark.libreoffice  # every case measures a PDF LibreOffice made

DATA = Path(__file__).parents[1] / "data"
PITCH = 156 / 28  # mm: the grid's character pitch
LINE = 225 / 22  # mm: the grid's line pitch
ONE_CHAR = 16 / MM  # mm: one 3号 character
# Unit names of the intake table: the five of Dehua, and one of 13 characters.
UNITS = ["德化县社会福利中心", "德化县浔中镇敬老院", "德化县儿童福利院", "德化县救助管理站",
         "德化县殡仪馆", "德化县浔中镇农村幸福院中心"]
# The example titles cut into words by hand (independently of the generator's word list):
# no printed title line may end inside one of these pieces.
TITLE_WORDS = {
    "notice-weihai-2016":
        "威海市|民政局|关于|印发|《|全市|民政服务机构|“|安全管理月|”|活动|方案|》|的|通知",
    "notice-dehua-2024":
        "德化县|民政局|关于|开展|2024年|全县|民政服务机构|“|安全生产月|”|活动|的|通知",
    "summary-2024":
        "德化县|民政局|关于|2024年|全县|民政服务机构|“|安全生产月|”|活动|开展|情况|的|报告",
    "summary-upward-2024":
        "德化县|民政局|关于|2024年|全县|民政服务机构|“|安全生产月|”|活动|开展|情况|的|报告",
    "letter": "2024年度|民政服务机构|安全生产|责任书",
}


@dataclass
class Printed:
    data: object
    pages: list[list[Line]]
    path: Path


def _intake_rows() -> list[dict]:
    return [{"name": name, "submissions": 1 + index % 2, "documents_ok": 1,
             "photos_ok": 5 + index, "photos_failed": index % 3, "videos_ok": 1,
             "videos_failed": 0, "complete": index == 0, "last_submission": None}
            for index, name in enumerate(UNITS)]


def _letter_data(**changes: object) -> models.Letter:
    raw = yaml.safe_load((DATA / "letters-2024.yaml").read_text(encoding="utf-8"))
    return models.parse(raw | changes, "letter")


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Printed]:
    """The examples as the generator makes them, in one LibreOffice run."""
    folder = tmp_path_factory.mktemp("layout")
    made: dict[str, tuple[object, object]] = {}
    for name in ("notice-weihai-2016", "notice-dehua-2024"):
        data = models.load(DATA / f"{name}.yaml", "notice")
        made[name] = (data, docgen.build(data))
    for name in ("summary-2024", "summary-upward-2024"):
        data = models.load(DATA / f"{name}.yaml", "summary")
        made[name] = (data, docgen.build(data, intake_rows=_intake_rows()))
    letter = _letter_data(title="2024年度民政服务机构安全生产责任书")
    made["letter"] = (letter, documents.build_letter(letter, letter.units[1]))
    sources = []
    for name, (_, document) in made.items():
        sources.append(folder / f"{name}.docx")
        document.save(sources[-1])
    result = {}
    for (name, (data, _)), path in zip(made.items(), pdf.convert_cold(sources, folder),
                                       strict=True):
        with pdfplumber.open(path) as document:
            result[name] = Printed(data, [page_lines(page) for page in document.pages], path)
    return result


# --- titles ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(TITLE_WORDS))
def test_no_title_line_splits_a_word(printed: dict[str, Printed], name: str) -> None:
    words = TITLE_WORDS[name].split("|")
    title = "".join(words)
    lines = [line.text for line in printed[name].pages[0] if line.size == 22]
    assert "".join(lines) == title, lines
    boundaries = {len("".join(words[:index])) for index in range(len(words) + 1)}
    ends = {len("".join(lines[:index])) for index in range(1, len(lines))}
    assert ends <= boundaries, (lines, ends - boundaries)
    if len(lines) > 1:  # balanced: no line less than half as long as the longest
        widths = [line.x1 - line.x0 for line in printed[name].pages[0] if line.size == 22]
        assert min(widths) > max(widths) / 2, lines


def test_the_dehua_title_breaks_before_the_institutions_not_inside(
        printed: dict[str, Printed]) -> None:
    lines = [line.text for line in printed["notice-dehua-2024"].pages[0] if line.size == 22]
    assert lines == ["德化县民政局关于开展2024年全县", "民政服务机构“安全生产月”活动的通知"]


def test_an_author_line_break_is_kept() -> None:
    data = models.load(DATA / "notice-dehua-2024.yaml", "notice")
    changed = data.model_copy(update={"title": "德化县民政局\n关于开展活动的通知"})
    paragraphs = documents.build_notice(changed).doc.paragraphs
    title = next(p for p in paragraphs if p.style.name == "GW Title")
    assert title.text == "德化县民政局\n关于开展活动的通知"


# --- no stretched lines ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["notice-weihai-2016", "notice-dehua-2024", "summary-2024",
                                  "letter"])
def test_no_full_body_line_is_stretched(printed: dict[str, Printed], name: str) -> None:
    """On every full 3号 line, two neighbouring Chinese characters stand at most 12% wider
    apart than the grid pitch (156 mm / 28), punctuation aside."""
    path = printed[name].path
    worst = 0.0
    with pdfplumber.open(path) as document:
        for page in document.pages:
            rows: dict[float, list[dict]] = {}
            for char in page.chars:
                if round(char["size"]) == 16 and char["text"].strip():
                    key = next((top for top in rows if abs(top - char["top"]) < 1.5),
                               char["top"])
                    rows.setdefault(key, []).append(char)
            for top, chars in rows.items():
                chars.sort(key=lambda char: char["x0"])
                if chars[-1]["x1"] / MM < BLOCK_RIGHT - 1 or top / MM > BLOCK_BOTTOM:
                    continue
                for left, right in itertools.pairwise(chars):
                    if _plain_chinese(left["text"]) and _plain_chinese(right["text"]):
                        worst = max(worst, (right["x0"] - left["x0"]) / MM / PITCH)
    assert worst > 0.99  # full lines were measured
    assert worst <= 1.12, f"{name}: characters set {worst - 1:.1%} wider than the grid"


def test_only_a_paragraph_a_little_over_one_line_is_squeezed() -> None:
    """A paragraph that runs over its line by less than its tail "求。" (which cannot break)
    is set a little tighter, on one line. A paragraph that fits, or that runs onto a second
    line by more, keeps the grid's spacing. (The letter's target "…不低于95%。" did run over
    while 3.4 pt stood on each side of its numbers; without that gap it fits.)"""
    spilled = "2.重大事故隐患整改率100%，一般隐患整改率均达到要求。"
    spacing = measure.squeezed_spacing(spilled)
    assert spacing is not None
    assert geometry.CHAR_SPACING - measure.SQUEEZE_PT <= spacing < geometry.CHAR_SPACING
    assert measure.squeezed_spacing("3.消防设施完好率100%，疏散通道、安全出口保持畅通。") is None
    assert measure.squeezed_spacing(spilled + "一般隐患整改率") is None


def _plain_chinese(text: str) -> bool:
    return len(text) == 1 and ord(text) >= 0x3400 and text not in "“”‘’（）《》、，。：；！？"


def test_an_e_mail_address_stays_whole_in_the_pdf_text(printed: dict[str, Printed]) -> None:
    with pdfplumber.open(printed["notice-weihai-2016"].path) as document:
        text = "".join(page.extract_text() for page in document.pages)
    assert "whmzjaqgly@163.com" in text.replace("\n", "")
    assert "\u200b" not in text


# --- the 上行文 header -------------------------------------------------------------------------

def test_upward_header_has_number_left_and_signer_right(printed: dict[str, Printed]) -> None:
    summary = printed["summary-upward-2024"]
    lines = summary.pages[0]
    header = next(line for line in lines if "签发人" in line.text)
    assert header.text.startswith("德民〔2024〕35号")
    assert header.text.endswith("签发人：林志强")
    assert abs(header.x0 - (BLOCK_LEFT + ONE_CHAR)) < 1, header.x0  # 居左空一字
    assert abs(header.x1 - (BLOCK_RIGHT - ONE_CHAR)) < 1, header.x1  # 居右空一字
    assert "FandolKai-Regular" in header.fonts  # the names in 楷体
    red = [rule for rule in page_rules(pdfplumber.open(summary.path).pages[0])
           if rule[3][:3] == (1.0, 0.0, 0.0)]
    assert len(red) == 1 and abs(red[0][0] - header.bottom - 4) <= 1


def test_signers_take_a_string_or_a_list() -> None:
    raw = yaml.safe_load((DATA / "summary-upward-2024.yaml").read_text(encoding="utf-8"))
    assert models.parse(raw, "summary").signer == ["林志强"]
    many = models.parse(raw | {"signer": ["林志强", "陈明", "黄华"]}, "summary")
    document = documents.build_summary(many)
    texts = [p.text for p in document.doc.paragraphs if "签发人" in p.text or "黄华" in p.text]
    assert texts == ["\t签发人：林志强　陈明", "德民〔2024〕35号\t　　　　黄华"]


# --- the summary's intake table ------------------------------------------------------------

def _table_page(summary: Printed) -> tuple[int, list[Line]]:
    for number, lines in enumerate(summary.pages):
        if any(line.text.startswith("单位") and line.size == 14 for line in lines):
            return number, lines
    raise AssertionError("no table")


def test_unit_names_and_headers_do_not_break(printed: dict[str, Printed]) -> None:
    _, lines = _table_page(printed["summary-2024"])
    cells = [line for line in lines if line.size == 14]
    header = cells[0]
    for word in ("单位", "报送次数", "总结", "照片", "视频", "材料齐全"):
        assert word in header.text.replace(" ", ""), header.text
    for name in UNITS:  # all under 14 characters, each whole on one line
        assert any(line.text.startswith(name) for line in cells), name


def test_cells_are_centred_both_ways(printed: dict[str, Printed]) -> None:
    summary = printed["summary-2024"]
    number, _ = _table_page(summary)
    with pdfplumber.open(summary.path) as document:
        page = document.pages[number]
        columns = sorted({round(edge["x0"] / MM, 1) for edge in [*page.rects, *page.lines]
                          if edge["height"] > 3 and edge["width"] < 2})
        rows = sorted({rule[0] for rule in page_rules(page)})
        words = page.extract_words()
    assert len(columns) == 7, columns  # six columns
    header_words = [w for w in words if w["text"] in {"报送次数", "材料齐全", "总结"}]
    assert len(header_words) == 3
    for word in header_words:
        left = max(x for x in columns if x <= word["x0"] / MM)
        right = min(x for x in columns if x >= word["x1"] / MM)
        centre = (word["x0"] + word["x1"]) / 2 / MM
        assert abs(centre - (left + right) / 2) < 1, word["text"]
        top = max(y for y in rows if y <= word["top"] / MM)
        bottom = min(y for y in rows if y >= word["bottom"] / MM)
        middle = (word["top"] + word["bottom"]) / 2 / MM
        assert abs(middle - (top + bottom) / 2) < 1, word["text"]


# --- the letter ------------------------------------------------------------------------------

def test_letter_signature_block(printed: dict[str, Printed]) -> None:
    letter = printed["letter"]
    lines = [line for page in letter.pages for line in page]
    parties = next(index for index, line in enumerate(lines)
                   if line.text.startswith("甲方（盖章）"))
    above, head = lines[parties - 1], lines[parties]
    assert head.top - above.bottom > LINE, "one blank line before the signature block"
    names = lines[parties + 1]
    assert names.text.replace(" ", "") == "德化县民政局德化县浔中镇敬老院"
    signing = lines[parties + 2]
    assert signing.top - names.bottom >= 4 * LINE - 1, "room for the seals"
    with pdfplumber.open(letter.path) as document:
        words = [w for page in document.pages for w in page.extract_words()
                 if w["text"].startswith("负责人（签字）")]
    assert [w["text"] for w in words] == ["负责人（签字）：", "负责人（签字）："]
    assert abs(words[0]["top"] - words[1]["top"]) < 0.5
    assert abs((words[1]["x0"] - words[0]["x0"]) / MM - 156 / 2) < 1  # two alike columns


def test_letter_names_the_month_of_its_title_or_campaign() -> None:
    def body(data: models.Letter) -> str:
        document = documents.build_letter(data, data.units[0])
        return "\n".join(p.text for p in document.doc.paragraphs)

    production = body(_letter_data(title="2024年度民政服务机构安全生产责任书"))
    assert "签订2024年度安全生产责任书。" in production and "一、安全生产目标" in production
    management = body(_letter_data())
    assert "签订2024年度安全管理责任书。" in management and "一、安全管理目标" in management
    chosen = body(_letter_data(campaign="消防安全"))
    assert "一、消防安全目标" in chosen
    assert re.search(r"乙方：德化县社会福利中心（负责人：郑某某）\n", production)


def _chars(text: str) -> float:
    """Width in characters, Latin and digits counted as half."""
    return sum(1 if ord(char) > 0x2E80 or char in "“”" else 0.5 for char in text)


@pytest.mark.parametrize(("title", "protected"), [
    ("某某县民政局关于转发《关于做好养老机构消防安全工作的通知》的通知",
     "《关于做好养老机构消防安全工作的通知》"),
    ("某某县民政局关于开展全县养老机构“消防安全大排查”专项整治活动的通知", "“消防安全大排查”"),
    ("某某县民政局关于2025年全县民政服务机构安全管理工作要点的通知", "2025年"),
])
def test_a_generated_break_never_cuts_a_book_title_a_quote_or_a_number(
        title: str, protected: str) -> None:
    lines = titles.split_title(title, 20, _chars)
    assert len(lines) >= 2 and "".join(lines) == title  # three lines rather than cut 《…》
    assert any(protected in line for line in lines), lines
    assert all(_chars(line) <= 20 for line in lines)


def test_a_book_title_longer_than_a_line_breaks_at_a_word_inside_it() -> None:
    title = "关于印发《全市民政服务机构“安全管理月”活动实施方案》的通知"
    lines = titles.split_title(title, 14, _chars)
    assert "".join(lines) == title and all(_chars(line) <= 14 for line in lines)
    assert any("“安全管理月”" in line for line in lines), lines
    assert not any(line.endswith(("《", "“")) for line in lines)


@pytest.mark.parametrize(("text", "breaks"), [
    ("邮箱：whmzjaqgly@163.com。", True),
    ("见 https://mzj.example.cn/notice 。", True),
    ("格式为MP4、MPG2、AVI、MTS", False),  # short runs keep their place
    ("不低于1920像素×1080像素", False),
    ("{{ unit.category }}", False),  # a long name that is not an address
])
def test_only_addresses_may_break_inside(text: str, breaks: bool) -> None:
    made = measure.breakable(text)
    assert made.replace(measure.ZERO_WIDTH_SPACE, "") == text
    assert (measure.ZERO_WIDTH_SPACE in made) == breaks
