"""The console in a real browser: Debian's Chromium driven by Playwright (never a
downloaded browser), against a real ``safetymonth serve`` on loopback. One coordinator's
session from login to logout; screenshots are saved in the test's temp folder."""

from __future__ import annotations

from pathlib import Path

from docx import Document
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.support.browser import give_reason
from tests.support.console import PASSWORDS, STRANGER, Console

SMALL_PHOTO_UNIT = "德化县浔中镇敬老院"  # sent only a 1280×960 photo (fill_store)
CREDITED_TO = "德化县救助管理站"  # sent nothing; the stranger's complete mail goes to it


def _row(page: Page, unit: str) -> Locator:
    return page.locator("table.board tbody tr", has=page.get_by_role("link", name=unit,
                                                                      exact=True))


def _cells(page: Page, unit: str) -> list[str]:
    return [text.strip() for text in _row(page, unit).locator("td").all_inner_texts()]


def test_a_coordinators_session(console: Console, browser: BrowserContext,
                                tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page = browser.new_page()

    # Log in.
    page.goto(f"{console.url}/")
    expect(page).to_have_url(f"{console.url}/login?next=/")
    page.get_by_label("用户名").fill("clerk")
    page.get_by_label("密码").fill(PASSWORDS["clerk"])
    page.get_by_role("button", name="登录").click()

    # The board: the small-photo unit is incomplete with one failed file and nothing passed.
    expect(page.locator("table.board")).to_be_visible()
    expect(page.locator(".countdown")).to_contain_text("截止日期")
    page.screenshot(path=shots / "board.png", full_page=True)
    cells = _cells(page, SMALL_PHOTO_UNIT)
    assert cells[1:5] == ["未齐全", "活动总结、视频、照片", "0", "1"]
    assert _cells(page, CREDITED_TO)[1] == "未提交"

    # Open the unit and accept its photo with a reason (asked by a prompt).
    page.get_by_role("link", name=SMALL_PHOTO_UNIT, exact=True).click()
    expect(page.locator("h1")).to_contain_text(SMALL_PHOTO_UNIT)
    photo = page.locator("li.file.failed").first
    expect(photo.locator(".reasons")).to_contain_text("1280")
    # Its thumbnail, made in the probe sandbox on this first view, shows (1280×960: 4:3).
    page.wait_for_function("image => image.complete && image.naturalWidth > 0",
                           arg=photo.locator("img.thumb").element_handle(), timeout=60_000)
    assert photo.locator("img.thumb").evaluate("image => [image.naturalWidth, "
                                               "image.naturalHeight]") == [320, 240]
    page.screenshot(path=shots / "unit.png", full_page=True)
    photo.get_by_role("button", name="认定合格…").click()
    give_reason(page, "认定合格的理由：", "实地演练的唯一照片，分辨率略低，予以认可")
    accepted = page.locator("li.file.ok").first
    expect(accepted.locator(".decision")).to_contain_text("实地演练的唯一照片")

    # The board changed: the photo passes, the unit now lacks only the summary and video.
    page.get_by_role("link", name="看板").click()
    assert _cells(page, SMALL_PHOTO_UNIT)[1:5] == ["未齐全", "活动总结、视频", "1", "0"]

    # Credit the unknown sender's mail to a unit.
    page.get_by_role("link", name="未计入的邮件").first.click()
    stranger = page.locator("article.message", has_text=STRANGER).first
    stranger.get_by_label("计入单位").select_option(label=CREDITED_TO)
    stranger.get_by_role("button", name="计入…").click()
    give_reason(page, "计入该单位的理由：", "站长用私人邮箱报送，已电话核实")
    page.get_by_role("link", name="看板").click()
    assert _cells(page, CREDITED_TO)[1:3] == ["已齐全", ""]

    # The history shows both decisions with who made them.
    page.get_by_role("link", name="决定记录").click()
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("clerk")

    # Fill the notice form and download the .docx.
    page.get_by_role("link", name="文档").click()
    page.get_by_role("link", name="通知").click()
    title = "德化县民政局关于开展2026年安全管理月活动的通知"
    page.locator("input[name='f:title']").fill(title)
    page.get_by_role("button", name="保存并生成 .docx").click()
    with page.expect_download() as download_info:
        page.locator("a.docx").first.click()
    saved = tmp_path / "notice.docx"
    download_info.value.save_as(saved)
    # docgen breaks a long title into lines (a line break inside the paragraph).
    assert title in [paragraph.text.replace("\n", "")
                     for paragraph in Document(str(saved)).paragraphs]
    page.screenshot(path=shots / "documents.png", full_page=True)

    # Log out: the board is gone until the next login.
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(f"{console.url}/login")
    page.goto(f"{console.url}/")
    expect(page).to_have_url(f"{console.url}/login?next=/")
    for name in ("board.png", "unit.png", "documents.png"):
        assert (shots / name).stat().st_size > 10_000
