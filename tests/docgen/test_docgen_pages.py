"""The 版记 on the last side of a double-sided print (GB/T 9704 7.4), and 7.5's unnumbered
blank page, measured on LibreOffice PDFs of Dehua notices whose bodies are N one-line
paragraphs (N chosen so the body ends on each side of a page, with and without room)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from safetymonth import docgen
from safetymonth.docgen import models, pdf
from tests.support.pdf_lines import BLOCK_BOTTOM, Line, pdf_pages

pytestmark = pytest.mark.libreoffice  # every case measures a PDF LibreOffice made

DATA = Path(__file__).parents[1] / "data"
# Measured once: 22 lines end on page 2 with room for the 版记; 26 end at the foot of page 2;
# 30 end on page 3; 48 fill page 3 to its foot.
LENGTHS = (22, 26, 30, 48)


def _notice(lines: int) -> models.Notice:
    raw = yaml.safe_load((DATA / "notice-dehua-2024.yaml").read_text(encoding="utf-8"))
    del raw["note"]
    body = "\n\n".join(f"第{index}项工作按计划推进。" for index in range(1, lines + 1))
    return models.parse(raw | {"body": body}, "notice")


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[list[Line]]]:
    folder = tmp_path_factory.mktemp("pages")
    sources = {}
    for lines in LENGTHS:
        sources[f"double{lines}"] = (_notice(lines), docgen.Options())
    sources["single30"] = (_notice(30), docgen.Options(imprint_on_even_page=False))
    paths = []
    for name, (data, options) in sources.items():
        paths.append(folder / f"{name}.docx")
        docgen.build(data, options=options).save(paths[-1])
    pdfs = pdf.convert_cold(paths, folder)
    return {name: pdf_pages(made) for name, made in zip(sources, pdfs, strict=True)}


def _imprint_page(pages: list[list[Line]]) -> int:
    """The 1-based number of the page carrying 印发 in 4号."""
    found = [number for number, lines in enumerate(pages, start=1)
             if any(line.size == 14 and line.text.endswith("印发") for line in lines)]
    assert len(found) == 1, found
    return found[0]


def _page_number(lines: list[Line]) -> str | None:
    footer = [line.text for line in lines if line.top > BLOCK_BOTTOM]
    assert len(footer) <= 1, footer
    return footer[0] if footer else None


def _has_body(lines: list[Line]) -> bool:
    return any(line.size == 16 and line.top < BLOCK_BOTTOM for line in lines)


@pytest.mark.parametrize("lines", LENGTHS)
def test_imprint_is_on_the_last_page_and_an_even_one(
        printed: dict[str, list[list[Line]]], lines: int) -> None:
    pages = printed[f"double{lines}"]
    number = _imprint_page(pages)
    assert number == len(pages)
    assert number % 2 == 0, f"版记 on page {number}"


def test_each_case_of_7_4_and_7_5_is_met(printed: dict[str, list[list[Line]]]) -> None:
    kinds = {}
    for lines in LENGTHS:
        pages = printed[f"double{lines}"]
        last, before = pages[-1], pages[-2]
        if _has_body(last):
            kinds["under the body"] = lines
        elif _has_body(before):
            kinds["alone, after an odd page"] = lines
        else:
            kinds["after a blank page"] = lines
    assert set(kinds) == {"under the body", "alone, after an odd page", "after a blank page"}


@pytest.mark.parametrize("lines", LENGTHS)
def test_pages_are_numbered_except_a_blank_page_and_the_imprint_after_it(
        printed: dict[str, list[list[Line]]], lines: int) -> None:
    pages = printed[f"double{lines}"]
    blank_before = not any(line.top < BLOCK_BOTTOM for line in pages[-2])
    unnumbered = {len(pages) - 1, len(pages)} if blank_before else set()
    for number, page in enumerate(pages, start=1):
        if number in unnumbered:
            assert _page_number(page) is None, number
            if number == len(pages) - 1:
                assert not page, "the blank page carries nothing"
        else:
            assert _page_number(page) == f"—{number}—"


def test_single_sided_keeps_the_imprint_under_the_body(
        printed: dict[str, list[list[Line]]]) -> None:
    single, double = printed["single30"], printed["double30"]
    assert _imprint_page(single) == len(single) == 3  # odd: printed single-sided
    assert _has_body(single[-1])
    assert len(double) == 4 and not _has_body(double[-1])


def test_without_libreoffice_the_imprint_stays_under_the_body_and_a_warning_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # Latin letters have no one width: whether this sentence takes one line or two is
    # LibreOffice's to say, so this page needs a layout.
    data = _notice(30)
    latin = "\n\nThe county bureau holds the safety month in June."
    data = data.model_copy(update={"body": data.body + latin})
    monkeypatch.setenv("PATH", str(tmp_path))  # no soffice on it
    with caplog.at_level("WARNING"):
        document = docgen.build(data)
    assert "版记 left on the body's last page" in caplog.text
    assert "LibreOffice is not installed" in caplog.text
    assert len(document.doc.sections) == 1  # no section of unnumbered pages
    breaks = [p for p in document.doc.paragraphs if p.paragraph_format.page_break_before]
    assert breaks == []  # and no page break before the 版记
