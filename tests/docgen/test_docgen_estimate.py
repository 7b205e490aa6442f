"""The 版记's page worked out without LibreOffice (issue 23 part 2): the estimate of where the
body ends agrees with the pages LibreOffice makes of the same .docx, counted with pdfplumber,
for the shared examples, the seeds' texts and bodies ending around a page's last lines; a
notice generated without a PDF starts no LibreOffice and still has its 版记 on an even page;
what the estimate cannot decide is laid out once and then read from the cache."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docx
import pdfplumber
import pytest
import yaml
from click.testing import CliRunner

from safetymonth import docgen
from safetymonth.cli import main
from safetymonth.docgen import models, pdf
from safetymonth.docgen.documents import build_notice, build_summary, environment
from safetymonth.docgen.estimate import estimate
from safetymonth.docgen.layout import OfficialDocument, Placement
from safetymonth.docgen.paging import placement_for

pytestmark = pytest.mark.libreoffice  # every expectation is a PDF LibreOffice made

SHARED = Path("/work/shared")
EXAMPLES = Path(docgen.__file__).parent / "examples"
Build = Callable[[Placement | None], OfficialDocument]


def _raw(name: str) -> dict[str, Any]:
    shared = SHARED / "examples" / f"{name}.yaml"
    path = shared if shared.exists() else EXAMPLES / f"{name}.yaml"
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def _notice(raw: dict[str, Any], body: str, **changes: Any) -> models.Notice:
    return models.parse(raw | {"body": body} | changes, "notice")


def _seed_body(name: str) -> str:
    """The seed's running text (its lines of 20 characters and more), a paragraph each."""
    text = (SHARED / "seeds" / name).read_text(encoding="utf-8")
    return "\n\n".join(line.strip() for line in text.splitlines() if len(line.strip()) >= 20)


def _one_liners(count: int) -> str:
    return "\n\n".join(f"第{index}项工作按计划推进。" for index in range(1, count + 1))


def _cases() -> dict[str, models.Notice | models.Summary]:
    """Documents to compare: the examples, the seeds' texts under the Dehua head, and bodies
    that end on the last lines of page 2 or 3 or just past them (26 one-line paragraphs
    fill page 2, 48 page 3: tests/docgen/test_docgen_pages.py), with a one-row 版记 and with
    a two-row one (抄送), with the last paragraph two to four lines long, with 附件说明
    and 附件 pages, and summaries whose statistics table runs over pages, with rows of one
    line and of several."""
    dehua = _raw("notice-dehua-2024")
    del dehua["note"]
    cases: dict[str, models.Notice | models.Summary] = {
        name: docgen.load(EXAMPLES / f"{name}.yaml", name.split("-")[0], [])
        for name in ("notice-dehua-2024", "notice-weihai-2016", "summary-2024",
                     "summary-upward-2024")}
    if (SHARED / "examples").is_dir():
        for path in sorted((SHARED / "examples").glob("[ns]*.yaml")):
            cases[f"shared-{path.stem}"] = docgen.load(path, path.stem.split("-")[0], [])
    for seed in ("dehua-2024-notice.txt", "weihai-2016-notice.txt"):
        if (SHARED / "seeds" / seed).exists():
            cases[f"seed-{seed}"] = _notice(dehua, _seed_body(seed))
    cc = {"cc": ["县应急管理局", "县消防救援大队", "县市场监督管理局"]}
    for count in (*range(23, 29), *range(45, 51)):
        cases[f"one-liners-{count}"] = _notice(dehua, _one_liners(count))
        cases[f"one-liners-{count}-cc"] = _notice(dehua, _one_liners(count), **cc)
    last = "各单位要按照要求认真组织开展安全生产月各项活动，及时总结经验做法。"
    for count in (21, 22, 23, 24):
        for lines in (2, 3, 4):
            body = _one_liners(count) + "\n\n" + last * (lines * 28 // len(last))
            cases[f"long-{count}-{lines}"] = _notice(dehua, body)
    titles = ["2024年全县民政服务机构安全生产月活动安排表", "安全应急短视频征集要求"]
    for count in (12, 20):
        cases[f"appendix-{count}"] = _notice(
            dehua, _one_liners(count), attachments=titles, appendix=[
                {"title": titles[0], "body": _one_liners(count // 2)},
                {"title": titles[1], "body": last * 6}])
    for count in (6, 14, 18, 30, 34, 46):
        cases[f"table-{count}"] = models.parse(_raw("summary-2024"), "summary")
        cases[f"table-{count}-wrapped"] = cases[f"table-{count}"]
    return cases


def _intake_rows(name: str) -> list[dict[str, Any]]:
    """The statistics table's units for a ``table-N`` case: N units with short names, or
    (``-wrapped``) names long enough to wrap in their column, rows LibreOffice may split."""
    if not name.startswith("table-"):
        return []
    wrapped = name.endswith("-wrapped")
    return [{"name": f"德化县第{index}乡镇民政服务中心敬老院及附属康养服务中心" if wrapped
             else f"第{index}敬老院", "id": f"unit{index}", "group": None,
             "submissions": index % 5, "complete": bool(index % 2)}
            for index in range(int(name.split("-")[1]))]


CASES = _cases()


def _builder(data: models.Notice | models.Summary, name: str = "") -> Build:
    env = environment()
    if isinstance(data, models.Notice):
        return lambda placement: build_notice(data, env, placement=placement)
    rows = _intake_rows(name)
    return lambda placement: build_summary(data, rows, env, placement=placement)


def _pages(path: Path) -> int:
    with pdfplumber.open(path) as document:
        return len(document.pages)


@pytest.fixture(scope="module")
def libreoffice(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, int]]:
    """Pages LibreOffice makes of each case without the 版记 and with it under the body."""
    folder = tmp_path_factory.mktemp("estimate")
    sources = []
    for index, (name, data) in enumerate(CASES.items()):
        build = _builder(data, name)
        for label, placement in (("body", None), ("same", Placement.SAME_PAGE)):
            sources.append(folder / f"{index}-{label}.docx")
            build(placement).save(sources[-1])
    made = pdf.convert_cold(sources, folder)
    return {name: (_pages(made[2 * index]), _pages(made[2 * index + 1]))
            for index, name in enumerate(CASES)}


@pytest.mark.parametrize("name", list(CASES))
def test_the_estimate_agrees_with_libreoffice_where_it_is_sure(
        libreoffice: dict[str, tuple[int, int]], name: str) -> None:
    body_pages, pages = libreoffice[name]
    guess = estimate(_builder(CASES[name], name)(Placement.SAME_PAGE).doc)
    if guess.certain:
        assert (guess.body_pages, guess.imprint_fits) == (body_pages, pages == body_pages)
    expected = placement_for(body_pages, imprint_fits=pages == body_pages)
    document = docgen.build(CASES[name], intake_rows=_intake_rows(name))
    assert _placement(document) is expected


def test_the_examples_and_seeds_need_no_libreoffice() -> None:
    sure = {name: estimate(_builder(data)(Placement.SAME_PAGE).doc).certain
            for name, data in CASES.items()
            if name.startswith(("notice", "summary", "shared", "seed"))}
    assert all(sure.values()), sure
    boundary = [estimate(_builder(data, name)(Placement.SAME_PAGE).doc).certain
                for name, data in CASES.items()
                if not name.startswith(("notice", "summary", "shared", "seed"))]
    assert sum(boundary) >= len(boundary) * 3 // 4, boundary


def _placement(document: OfficialDocument) -> Placement:
    """Where a built document put its 版记, read from its page breaks and sections."""
    if len(document.doc.sections) > 1:
        return Placement.AFTER_BLANK
    breaks = [p for p in document.doc.paragraphs if p.paragraph_format.page_break_before
              and not p.text]
    return Placement.NEXT_PAGE if breaks else Placement.SAME_PAGE


def _imprint_page(path: Path) -> tuple[int, int]:
    """The 1-based page carrying 印发 in 4号, and the page count."""
    with pdfplumber.open(path) as document:
        found = [number for number, page in enumerate(document.pages, start=1)
                 if "印发" in "".join(char["text"] for char in page.chars
                                      if round(char["size"]) == 14)]
        assert len(found) == 1, found
        return found[0], len(document.pages)


def test_generate_notice_without_a_pdf_starts_no_libreoffice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("storage:\n  dir: store\n", encoding="utf-8")
    outputs = []
    with monkeypatch.context() as without:
        without.setenv("PATH", str(tmp_path))  # no soffice on it: a run would fail
        for name in ("notice-dehua-2024", "notice-weihai-2016"):
            outputs.append(tmp_path / f"{name}.docx")
            result = CliRunner().invoke(main, ["--config", str(config), "generate", "notice",
                                               str(EXAMPLES / f"{name}.yaml"), "-o",
                                               str(outputs[-1])])
            assert result.exit_code == 0, result.output
            assert "LibreOffice" not in result.stderr
    for made in pdf.convert_cold(outputs, tmp_path):
        number, pages = _imprint_page(made)
        assert number == pages and number % 2 == 0, (made.name, number, pages)


def _notice_with_latin() -> models.Notice:
    """A notice with an English sentence: Latin letters have no one width, so whether the
    sentence takes one line or two is LibreOffice's to say."""
    raw = _raw("notice-dehua-2024")
    return _notice(raw, _one_liners(10) + "\n\nThe county bureau holds the safety month in June.")


def test_what_the_estimate_cannot_decide_is_laid_out_once_then_cached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    data = _notice_with_latin()
    assert not estimate(_builder(data)(Placement.SAME_PAGE).doc).certain
    cache = tmp_path / "store" / "var" / "layout"
    options = docgen.Options(layout_cache=cache)
    first = docgen.build(data, options=options)
    entries = list(cache.iterdir())
    assert len(entries) == 1
    assert stat.S_IMODE(entries[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    monkeypatch.setenv("PATH", str(tmp_path))  # the second build cannot start LibreOffice
    with caplog.at_level("WARNING"):
        second = docgen.build(data, options=options)
    assert "版记 left" not in caplog.text
    assert _placement(second) is _placement(first)
    assert list(cache.iterdir()) == entries


def test_generate_keeps_what_libreoffice_laid_out_under_the_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``generate``'s cache is ``storage.dir/layout``: the second run of an undecided notice
    needs no LibreOffice, and no cache is made where the store does not exist yet."""
    data = tmp_path / "notice.yaml"
    raw = _raw("notice-dehua-2024") | {
        "body": _one_liners(10) + "\n\nThe county bureau holds the safety month in June."}
    data.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text("storage:\n  dir: store\n", encoding="utf-8")

    def generate(name: str) -> str:
        result = CliRunner().invoke(main, ["--config", str(config), "generate", "notice",
                                           str(data), "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        return result.stderr

    generate("before-the-store.docx")
    assert not (tmp_path / "store").exists()  # generate makes no storage.dir of its own
    (tmp_path / "store").mkdir(mode=0o700)
    generate("first.docx")
    [entry] = (tmp_path / "store" / "layout").iterdir()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    monkeypatch.setenv("PATH", str(tmp_path))  # no soffice: only the cache can place it
    assert "LibreOffice" not in generate("second.docx")
    first, second = (SimpleNamespace(doc=docx.Document(str(tmp_path / name)))
                     for name in ("first.docx", "second.docx"))
    assert _placement(second) is _placement(first)  # type: ignore[arg-type]
