"""What a clerk saw in the console, in Debian's Chromium (Playwright) against a real
``safetymonth serve``: the countdown on the campaign's clock from a PC in another zone, one
count of 未计入的邮件 and of 未回复 on the board, its pages, /api/report and the .xlsx, an
added file that is no unanswered mail, a unit whose name holds "/", reminders by unit name,
machine mail's reason and a decided file by its name, in Chinese."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from safetymonth.config import DEFAULT_UNITS
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.browser import chromium
from tests.support.console import PASSWORDS, ROLES, STRANGER, Console, cli, serve
from tests.support.mailservers import drop, write_config

pytestmark = pytest.mark.browser  # starts its own Chromium (a zone of its own per context)

CAMPAIGN_ZONE = "Asia/Urumqi"  # UTC+6: not the +08:00 the countdown once assumed
PC_ZONE = "America/New_York"
SLASHED = "德化县民政局/养老服务中心"  # no id: its key is its name, "/" and all
RELIEF, FUNERAL, XZ = "德化县救助管理站", "德化县殡仪馆", "德化县浔中镇敬老院"
DEADLINE = date.today() + timedelta(days=40)


def _store(folder: Path, media: Media) -> Path:
    """Every reply goes out through the Maildir outbox, except 殡仪馆's second mail, held
    for a digest by a rate limit of one reply an hour; 救助管理站's only mail is an
    auto-reply; a stranger sends a complete submission."""
    folder.mkdir()
    units = [{"name": unit.name, "emails": unit.emails} for unit in DEFAULT_UNITS]
    units.append({"name": SLASHED, "emails": ["ylzx@dhmz.example.cn"]})
    config = write_config(folder, units=units, campaign={
        "timezone": CAMPAIGN_ZONE, "deadline": DEADLINE.isoformat()},
        mailbox={"reply_rate_limit": {"count": 1, "hours": 1}})
    inbox = folder / "inbox"
    drop(inbox, "1.eml", samplemail.complete_submission("fuli@dhmz.example.cn", media))
    drop(inbox, "2.eml", samplemail.failing_photo("xzjly@dhmz.example.cn", media))
    drop(inbox, "3.eml", samplemail.auto_reply("jiuzhu@dhmz.example.cn", "<away@x>"))
    drop(inbox, "4.eml", samplemail.complete_submission(STRANGER, media))
    drop(inbox, "5.eml", samplemail.failing_photo("ylzx@dhmz.example.cn", media, "<y@x>"))
    drop(inbox, "6.eml", samplemail.failing_photo("byg@dhmz.example.cn", media, "<b1@x>"))
    drop(inbox, "7.eml", samplemail.failing_photo("byg@dhmz.example.cn", media, "<b2@x>"))
    cli(config, "poll", "--once")
    for name, role in ROLES.items():
        cli(config, "user", "add", name, "--role", role, stdin=PASSWORDS[name] + "\n")
    return config


@pytest.fixture
def clerk_console(tmp_path: Path, mail_media: Media) -> Iterator[Console]:
    yield from serve(_store(tmp_path / "store", mail_media))


@pytest.fixture
def new_york_browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with chromium(tmp_path, timezone_id=PC_ZONE) as context:
        yield context


def _countdown(now: datetime) -> str:
    """What the countdown should say at ``now``: to the deadline day's last second on the
    campaign's clock (worked out with zoneinfo, as a clerk in Urumqi counts)."""
    end = datetime.combine(DEADLINE, time(23, 59, 59), ZoneInfo(CAMPAIGN_ZONE))
    left = (end - now) // timedelta(milliseconds=1)
    day = 24 * 3600 * 1000
    return f"还剩 {left // day} 天 {(left % day) // 3_600_000} 小时"


def _board_column(page: Page, column: int) -> dict[str, str]:
    rows = page.locator("table.board tbody tr")
    found = {}
    for index in range(rows.count()):
        cells = [text.strip() for text in rows.nth(index).locator("td").all_inner_texts()]
        found[cells[0]] = cells[column]
    return found


def test_what_a_clerk_saw(clerk_console: Console, new_york_browser: BrowserContext,
                          tmp_path: Path, mail_media: Media) -> None:
    page = new_york_browser.new_page()
    page.goto(f"{clerk_console.url}/login?next=/")
    page.get_by_label("用户名").fill("clerk")
    page.get_by_label("密码").fill(PASSWORDS["clerk"])
    before = datetime.now(UTC)
    page.get_by_role("button", name="登录").click()
    days = page.locator(".countdown .days")
    expect(days).to_contain_text("小时")
    shown = days.inner_text().strip()
    assert shown in {_countdown(before), _countdown(datetime.now(UTC))}

    # 未计入的邮件: the badge counts what its page lists (the stranger and the auto-reply).
    badge = page.locator("ul.counts a[href='/uncredited']")
    expect(badge).to_have_text("未计入的邮件 2")
    badge.click()
    expect(page.locator("article.message")).to_have_count(2)
    machine = page.locator("article.message", has_text="jiuzhu@dhmz.example.cn")
    expect(machine).to_contain_text("自动发出的邮件（Auto-Submitted: auto-replied）")
    expect(machine).not_to_contain_text("自动邮件：")

    # A file added by hand for 救助管理站 is no unanswered mail.
    page.get_by_role("link", name="看板").click()
    page.get_by_role("link", name=RELIEF, exact=True).click()
    page.locator("details.add summary").click()
    photo = tmp_path / "演练照片.jpg"
    photo.write_bytes(mail_media.photo)
    page.get_by_label("理由", exact=True).fill("站长微信发来的照片")
    page.locator("input[type=file]").set_input_files(photo)
    page.get_by_role("button", name="上传并检测").click()
    added = page.locator("article.message", has_text="补充文件")
    expect(added).to_contain_text("补充文件，无需回复")
    expect(added).not_to_contain_text("无发件人")
    expect(added).not_to_contain_text("未回复")

    # 未回复: 殡仪馆's held mail only; the board, /api/report and the .xlsx say the same.
    page.get_by_role("link", name="看板").click()
    expected = {unit.name: "0" for unit in DEFAULT_UNITS} | {SLASHED: "0", FUNERAL: "1"}
    assert _board_column(page, 6) == expected
    client = clerk_console.logged_in()
    api = {unit["name"]: str(unit["unanswered"])
           for unit in client.get("/api/report").json()["units"]}
    assert api == expected
    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/report.xlsx").content)).active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    column = header.index("未回复邮件")
    assert {row[0]: str(row[column]) for row in rows} == expected

    # A unit whose name holds "/" opens from the board.
    page.get_by_role("link", name=SLASHED, exact=True).click()
    expect(page.locator("h1")).to_contain_text(SLASHED)
    expect(page.locator("article.message")).to_have_count(1)

    # 催报 lists units by name, before and after sending.
    incomplete = {XZ, RELIEF, FUNERAL, SLASHED, "德化县儿童福利院"}
    for _ in range(2):
        page.get_by_role("link", name="催报").click()
        names = {text.strip() for text in
                 page.locator("table.board tbody tr td:first-child").all_inner_texts()}
        assert names == incomplete
        if page.get_by_role("button", name="确认发送催报").count() == 0:
            break
        page.get_by_role("button", name="确认发送催报").click()
        expect(page.locator("h1")).to_have_text("已催报")
        names = {text.strip() for text in
                 page.locator("table.board tbody tr td:first-child").all_inner_texts()}
        assert names == incomplete
        assert not any("name=" in name for name in names)

    # The history names a decided file by its name.
    files = {item["unit"]: item for item in client.get("/api/files").json()}
    small = files[XZ]
    cli(clerk_console.config_path, "accept", str(small["id"]), "--reason", "唯一的照片")
    page.get_by_role("link", name="决定记录").click()
    expect(page.locator("table.history tbody tr").first).to_contain_text(
        f"文件“{small['name']}”")
