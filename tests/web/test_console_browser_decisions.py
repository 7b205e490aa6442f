"""Safer decisions in a real browser (Debian's Chromium through Playwright, against a real
``safetymonth serve``): reasons asked in the page's <dialog>, never window.prompt; the unit
list starting at 请选择…; every action ending with a message saying what was done and an
undo button; a question put aside (已处理) and brought back; a unit's files as one zip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.browser import give_reason
from tests.support.console import PASSWORDS, Console, cli
from tests.support.mailservers import drop

QUESTION = "请问视频格式有什么要求？"
ASKER = "asker@163.example.com"
SMALL_PHOTO_UNIT = "德化县浔中镇敬老院"


def logged_in_page(console: Console, context: BrowserContext) -> tuple[Page, list[str]]:
    """A clerk's page, and the browser dialogs (alert, prompt) it opens: there must be none."""
    page = context.new_page()
    opened: list[str] = []
    page.on("dialog", lambda dialog: (opened.append(dialog.type), dialog.dismiss()))
    page.goto(f"{console.url}/login")
    page.get_by_label("用户名").fill("clerk")
    page.get_by_label("密码").fill(PASSWORDS["clerk"])
    page.get_by_role("button", name="登录").click()
    expect(page.locator("table.board")).to_be_visible()
    return page, opened


def test_decisions_ask_in_a_dialog_and_say_what_was_done(console: Console,
                                                        browser: BrowserContext) -> None:
    page, opened = logged_in_page(console, browser)
    page.goto(f"{console.url}/units/{SMALL_PHOTO_UNIT}")
    photo = page.locator("li.file.failed").first
    photo.get_by_role("button", name="认定合格…").click()
    # Cancelling the dialog sends nothing.
    expect(page.get_by_role("dialog")).to_be_visible()
    page.get_by_role("dialog").get_by_role("button", name="取消").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.locator("li.file.ok")).to_have_count(0)

    photo.get_by_role("button", name="认定合格…").click()
    give_reason(page, "认定合格的理由：", "唯一的演练照片")
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("认定为合格")
    expect(notice).to_contain_text("唯一的演练照片")
    expect(page.locator("li.file.ok")).to_have_count(1)
    # The message's undo button puts everything back, and says so.
    notice.get_by_role("button", name="撤销").click()
    expect(page.get_by_role("status")).to_contain_text("已撤销决定")
    expect(page.locator("li.file.ok")).to_have_count(0)
    expect(page.locator("li.file.failed")).to_have_count(1)

    # Crediting starts at 请选择…: sent as it is, the browser asks for a unit first.
    page.get_by_role("link", name="未计入的邮件").first.click()
    stranger = page.locator("article.message").first
    select = stranger.get_by_label("计入单位")
    assert select.evaluate("element => element.selectedOptions[0].textContent") == "请选择…"
    stranger.get_by_role("button", name="计入…").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert select.evaluate("element => element.validity.valueMissing")
    history = json.loads(cli(console.config_path, "history", "--json"))
    assert [row["action"] for row in history] == ["accept"]  # no credit was sent
    assert opened == []  # never window.prompt, alert or confirm


def test_a_question_is_put_aside_and_brought_back(console: Console,
                                                 browser: BrowserContext) -> None:
    drop(console.folder / "inbox", "question.eml", samplemail.message(
        ASKER, QUESTION, [samplemail.text_part(QUESTION + "\r\n谢谢！")]))
    cli(console.config_path, "poll", "--once")
    page, opened = logged_in_page(console, browser)
    page.goto(f"{console.url}/uncredited")
    question = page.locator("article.message", has_text=QUESTION)
    expect(question).to_have_count(1)
    question.get_by_role("button", name="标为已处理…").click()
    give_reason(page, "标为已处理的理由（例如：咨询视频格式，已电话答复）：",
                "咨询视频格式，已电话答复")
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("标为已处理")
    expect(page.locator("article.message", has_text=QUESTION)).to_have_count(0)
    # Recorded like every decision: who, why.
    page.get_by_role("link", name="决定记录").click()
    row = page.locator("table.history tbody tr").first
    expect(row).to_contain_text("已处理")
    expect(row).to_contain_text("clerk")
    expect(row).to_contain_text("咨询视频格式，已电话答复")
    row.get_by_role("button", name="撤销").click()
    expect(page.get_by_role("status")).to_contain_text("已撤销决定")
    page.get_by_role("link", name="未计入的邮件").first.click()
    expect(page.locator("article.message", has_text=QUESTION)).to_have_count(1)
    assert opened == []


def test_a_units_files_download_as_one_zip(console: Console, browser: BrowserContext,
                                           mail_media: Media, tmp_path: Path) -> None:
    page, _ = logged_in_page(console, browser)
    page.goto(f"{console.url}/units/德化县社会福利中心")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载全部文件（zip）").click()
    download = download_info.value
    assert download.suggested_filename == "德化县社会福利中心-安全管理月材料.zip"
    saved = tmp_path / "all.zip"
    download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == {
            "安全管理月活动总结.docx": mail_media.document, "消防疏散演练.mp4": mail_media.video,
            "消防演练现场.jpg": mail_media.photo}
