"""A clerk who has never seen YAML writes the notice, the letters and the summary in Debian's
Chromium: rows added, removed and moved, units ticked, a mistake made and corrected, then
the downloads opened (python-docx, zipfile, pdfplumber) and compared with what
``safetymonth generate`` makes from the data the console saved."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import pdfplumber
import pytest
import yaml
from docx import Document
from lxml import etree
from PIL import Image
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.support.cli_runs import run
from tests.support.console import PASSWORDS, Console

pytestmark = [pytest.mark.slow, pytest.mark.libreoffice]
SLOW = 240_000  # ms
EXAMPLES = Path(__file__).resolve().parents[2] / "safetymonth" / "docgen" / "examples"


def logged_in(console: Console, browser: BrowserContext, path: str) -> Page:
    page = browser.new_page()
    page.goto(f"{console.url}/login?next={path}")
    page.get_by_label("用户名").fill("clerk")
    page.get_by_label("密码").fill(PASSWORDS["clerk"])
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{console.url}{path}")
    # Saving and the preview run LibreOffice, on a machine other tests keep busy.
    page.set_default_timeout(SLOW)
    return page


def field(page: Page, name: str) -> Locator:
    return page.locator(f"form.doc [name='{name}']")


def rows(page: Page, path: str) -> Locator:
    return page.locator(f"fieldset[data-path='{path}'] .rows > .row")


def typed(inputs: Locator) -> list[str]:
    """What the fields hold now (their values, not their attributes)."""
    return inputs.evaluate_all("fields => fields.map(field => field.value)")


def no_server_path(page: Page, console: Console) -> None:
    html = page.content()
    for path in {str(console.folder / "storage"), str((console.folder / "storage").resolve())}:
        assert path not in html


def document_xml(docx: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        return package.read("word/document.xml")


def all_text(docx: bytes) -> str:
    """Every run's text of the body, tables included."""
    return "".join(node.text or "" for node in etree.fromstring(document_xml(docx)).iter(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}t"))


def downloaded(page: Page, link: str) -> tuple[str, bytes]:
    with page.expect_download(timeout=SLOW) as info:
        page.locator(link).first.click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def generated(console: Console, page: Page, kind: str, tmp_path: Path) -> Path:
    """``safetymonth generate`` on the data file the console saved (downloaded from it)."""
    name, data = downloaded(page, "a.data")
    assert name == f"{kind}.yaml"
    source = tmp_path / f"saved-{kind}.yaml"
    source.write_bytes(data)
    out = tmp_path / f"cli-{kind}" / ("letters" if kind == "letter" else f"{kind}.docx")
    out.parent.mkdir()
    run(console.config_path, "generate", kind, str(source), "-o", str(out))
    return out


def test_a_clerk_writes_the_weihai_notice(console: Console, browser: BrowserContext,
                                          tmp_path: Path) -> None:
    weihai = yaml.safe_load((EXAMPLES / "notice-weihai-2016.yaml").read_text(encoding="utf-8"))
    page = logged_in(console, browser, "/documents/notice")
    for key in ("issuer", "number", "title", "recipients", "body", "signature",
                "printed_by"):
        field(page, f"f:{key}").fill(weihai[key])
    field(page, "f:date").fill(weihai["date"].isoformat())
    field(page, "f:printed_on").fill(weihai["printed_on"].isoformat())
    field(page, "f:note").fill("")
    field(page, "f:enclosed.title").fill(weihai["enclosed"]["title"])
    field(page, "f:enclosed.body").fill(weihai["enclosed"]["body"])

    # 附件: three rows added, the second removed, the third moved up to first.
    for name in ("活动安排表", "联系人名单", "隐患排查表"):
        page.get_by_role("button", name="添加附件", exact=True).click()
        rows(page, "attachments").last.locator("input").fill(name)
    rows(page, "attachments").nth(1).get_by_role("button", name="删除").click()
    rows(page, "attachments").nth(1).get_by_role("button", name="上移").click()
    # 抄送: two organs.
    for organ in ("市安委会办公室", "市消防救援支队"):
        page.get_by_role("button", name="添加抄送机关").click()
        rows(page, "cc").last.locator("input").fill(organ)

    # A mistake: the title left empty, the date cleared.
    field(page, "f:title").fill("")
    field(page, "f:date").fill("")
    page.get_by_role("button", name="保存并生成 .docx").click()
    expect(page.locator("#field-title .field-error")).to_have_text("必填")
    expect(page.locator("#field-date .field-error")).to_have_text("必填")
    assert typed(rows(page, "attachments").locator("input")) == ["隐患排查表", "活动安排表"]
    expect(field(page, "f:body")).to_have_value(weihai["body"])
    expect(field(page, "f:number")).to_have_value(weihai["number"])
    no_server_path(page, console)

    # Corrected and saved.
    field(page, "f:title").fill(weihai["title"])
    field(page, "f:date").fill(weihai["date"].isoformat())
    page.get_by_role("button", name="保存并生成 .docx").click()
    expect(page.locator(".notice")).to_contain_text("已保存", timeout=SLOW)
    no_server_path(page, console)

    name, docx = downloaded(page, "a.docx")
    assert name == f"{weihai['number']} {weihai['title']}.docx"
    text = [paragraph.text.replace("\n", "") for paragraph in Document(io.BytesIO(docx)).paragraphs]
    assert weihai["title"] in text and weihai["number"] in text
    joined = all_text(docx)  # the 版记 (抄送) is a table, beyond .paragraphs
    assert joined.index("隐患排查表") < joined.index("活动安排表")
    assert "联系人名单" not in joined
    assert "市安委会办公室" in joined and "市消防救援支队" in joined

    cli = generated(console, page, "notice", tmp_path)
    assert document_xml(cli.read_bytes()) == document_xml(docx)


def test_a_clerk_writes_the_letters_for_the_ticked_units(
        console: Console, browser: BrowserContext, tmp_path: Path) -> None:
    page = logged_in(console, browser, "/documents/letter")
    names = rows(page, "units").locator("input[name='r:units.name']")
    roster = [names.nth(index).input_value() for index in range(names.count())]
    # Two units unticked; one unit added (its name has characters no file name may hold)
    # and moved up above the last unit of the roster.
    unticked = {roster[1], roster[3]}
    for unit in unticked:
        rows(page, "units").filter(has=page.locator(f"input[value='{unit}']")) \
            .locator("input[type=checkbox]").uncheck()
    page.get_by_role("button", name="添加单位").click()
    added = rows(page, "units").last
    added.locator("input[name='r:units.name']").fill("德化县/三班:敬老院")
    added.locator("input[name='r:units.category']").fill("养老机构")
    added.locator("input[name='r:units.head']").fill("李某某")
    added.get_by_role("button", name="上移").click()
    expected = [unit for unit in roster[:-1] if unit not in unticked] + [
        "德化县/三班:敬老院", roster[-1]]
    # A target added at the end.
    page.get_by_role("button", name="添加目标").click()
    rows(page, "targets").last.locator("textarea").fill("全年开展消防安全培训不少于两次")

    # A mistake: the term ends before it starts.
    field(page, "f:term.start").fill("2026-01-01")
    field(page, "f:term.end").fill("2025-12-31")
    page.get_by_role("button", name="保存并生成 .docx").click()
    expect(page.locator("#field-term-end .field-error")).to_have_text("截止日期不能早于起始日期")
    expect(rows(page, "units").locator("input[name='r:units.name']").nth(len(expected) - 2)) \
        .to_be_visible()
    ticked = rows(page, "units").filter(has=page.locator("input[type=checkbox]:checked"))
    assert typed(ticked.locator("input[name='r:units.name']")) == expected
    field(page, "f:term.end").fill("2026-12-31")
    page.get_by_role("button", name="保存并生成 .docx").click()
    expect(page.locator(".notice")).to_contain_text("已保存", timeout=SLOW)
    no_server_path(page, console)

    filed = [f"安全管理责任书（{unit.replace('/', '_').replace(':', '_')}）.docx"
             for unit in expected]
    expect(page.locator("a.docx")).to_have_text(filed)
    name, data = downloaded(page, "a.zip")
    assert name == f"安全管理责任书（共{len(expected)}份）.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == filed
        letters = [archive.read(member) for member in filed]
    added_letter = all_text(letters[-2])
    assert "德化县/三班:敬老院（负责人：李某某）" in added_letter
    assert "全年开展消防安全培训不少于两次" in added_letter

    cli = generated(console, page, "letter", tmp_path)
    made = sorted(cli.glob("*.docx"))
    assert [document_xml(path.read_bytes()) for path in made] == \
        [document_xml(letter) for letter in letters]


def test_a_clerk_previews_and_prints_the_summary(console: Console, browser: BrowserContext,
                                                 tmp_path: Path) -> None:
    page = logged_in(console, browser, "/documents/summary")
    last_words = "下一步，我局将把安全管理月活动中的好做法固定下来，形成长效机制。"
    methods = "\n\n".join(f"{number}是做法第{number}项，组织各机构开展消防安全检查和应急疏散演练。"
                          for number in range(1, 30))
    field(page, "f:sections.主要做法").fill(methods)
    field(page, "f:sections.下步打算").fill(last_words)
    page.get_by_role("button", name="刷新预览").click()
    first = page.get_by_role("img", name="第一页预览")
    last = page.get_by_role("img", name="最后一页预览")
    expect(first).to_be_visible(timeout=SLOW)
    expect(last).to_be_visible(timeout=SLOW)
    pictures = []
    for image in (first, last):
        response = page.request.get(console.url + image.get_attribute("src"))
        assert response.status == 200
        picture = Image.open(io.BytesIO(response.body()))
        assert abs(picture.height / picture.width - 297 / 210) < 0.02  # A4, portrait
        pictures.append(response.body())
    assert pictures[0] != pictures[1]
    # The form still holds what was typed; nothing was saved by the preview.
    expect(field(page, "f:sections.下步打算")).to_have_value(last_words)
    assert not page.locator("a.pdf").count()

    page.get_by_role("button", name="保存并生成 .docx").click()
    expect(page.locator(".notice")).to_contain_text("已保存", timeout=SLOW)
    title = field(page, "f:title").input_value()
    name, data = downloaded(page, "a.pdf")
    assert name == f"{title}.pdf"
    (tmp_path / "summary.pdf").write_bytes(data)
    with pdfplumber.open(tmp_path / "summary.pdf") as pdf:
        pages = ["".join((page_.extract_text() or "").split()) for page_ in pdf.pages]
    assert len(pages) >= 2
    assert title in pages[0]
    assert last_words in "".join(pages)
    assert "印发" in pages[-1]  # the 版记 closes the last page
    # The preview showed the pages the PDF has: its first and last page, as poppler renders
    # them at the preview's resolution.
    for number, picture in ((1, pictures[0]), (len(pages), pictures[1])):
        target = tmp_path / f"page-{number}"
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", str(number), "-l", str(number),
                        "-singlefile", str(tmp_path / "summary.pdf"), str(target)], check=True)
        rendered = Image.open(target.with_suffix(".png"))
        assert rendered.tobytes() == Image.open(io.BytesIO(picture)).tobytes()
    no_server_path(page, console)

    name, docx = downloaded(page, "a.docx")
    assert name == f"{title}.docx"
    cli = generated(console, page, "summary", tmp_path)
    assert document_xml(cli.read_bytes()) == document_xml(docx)
