"""The console's roster page: the units as the roster file lists them, and an admin's new
sheet: previewed as what would change, written over the file (the old one kept) and taken at
once on confirmation; a wrong, oversized or unauthorised upload changes nothing. Real intake,
a real ``serve``, Debian's Chromium; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook
from playwright.sync_api import BrowserContext, expect

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.roster import MAX_ROSTER_BYTES
from tests.support.console import Console, cli, csrf_of, log_in, serve
from tests.support.mailservers import drop, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

GROUPS = [{"id": "xunzhong", "name": "浔中镇民政办"}]
HEADER = ["单位名称", "编号", "邮箱", "所属", "类别", "负责人"]
OLD = [["德化县社会福利中心", "FL", "fuli@dhmz.example.cn", "浔中镇民政办", "养老机构", "郑某某"],
       ["德化县浔中镇敬老院", "XZ", "xzjly@dhmz.example.cn", "xunzhong", "养老机构", "林某某"],
       ["德化县殡仪馆", "BY", "byg@dhmz.example.cn", None, "殡葬服务机构", "王某某"]]
# FL renamed, XZ gains an address, BY removed, JZ added
NEW = [["德化县社会福利服务中心", "FL", "fuli@dhmz.example.cn", "浔中镇民政办", "养老机构",
        "郑某某"],
       ["德化县浔中镇敬老院", "XZ", "xzjly@dhmz.example.cn；xz2@dhmz.example.cn", "xunzhong",
        "养老机构", "林某某"],
       ["德化县救助管理站", "JZ", "jiuzhu@dhmz.example.cn", None, "救助管理机构", "黄某某"]]
PASSWORD = "roster-pass-long-1"


def _sheet(path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    workbook.active.append(HEADER)
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


@pytest.fixture
def rostered(tmp_path: Path, mail_media: Media) -> Iterator[Console]:
    _sheet(tmp_path / "单位名单.xlsx", OLD)
    config = write_config(tmp_path, units="单位名单.xlsx", groups=GROUPS)
    drop(tmp_path / "inbox", "1.eml",
         samplemail.complete_submission("fuli@dhmz.example.cn", mail_media))
    cli(config, "poll", "--once")
    for name, role in (("admin", "admin"), ("clerk", "coordinator")):
        cli(config, "user", "add", name, "--role", role, stdin=PASSWORD + "\n")
    yield from serve(config)


def _client(console: Console, user: str) -> httpx.Client:
    client = console.client()
    assert log_in(client, user, PASSWORD).status_code == 303
    return client


def test_an_admin_previews_and_applies_a_new_sheet(rostered: Console, browser: BrowserContext,
                                                   tmp_path: Path) -> None:
    roster = rostered.folder / "单位名单.xlsx"
    before = roster.read_bytes()
    upload = _sheet(tmp_path / "2025名单.xlsx", NEW)
    page = browser.new_page()
    page.goto(f"{rostered.url}/login")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="单位名单").click()
    rows = page.locator("table.roster tbody tr")
    expect(rows).to_have_count(3)
    assert [cell.strip() for cell in rows.nth(0).locator("td").all_inner_texts()] == \
        [*OLD[0][:3], "浔中镇民政办", *OLD[0][4:]]

    page.locator("input[type=file]").set_input_files(upload)
    page.get_by_role("button", name="预览更改…").click()
    preview = page.locator(".roster-preview")
    expect(preview.locator(".added")).to_have_text("德化县救助管理站")
    expect(preview.locator(".removed")).to_have_text("德化县殡仪馆")
    expect(preview.locator(".renamed")).to_have_text(
        f"FL：{OLD[0][0]} → {NEW[0][0]}")
    expect(preview.locator(".addresses")).to_have_text(
        f"{OLD[1][0]}：新增 xz2@dhmz.example.cn")
    assert roster.read_bytes() == before  # nothing written before the confirmation

    page.get_by_role("button", name="确认启用新名单").click()
    expect(page.locator(".notice")).to_contain_text("新名单已启用")
    assert roster.read_bytes() == upload.read_bytes()
    [backup] = rostered.folder.glob("单位名单.*.bak.xlsx")
    assert backup.read_bytes() == before
    expect(page.locator("table.roster tbody tr td:first-child")).to_have_text(
        [row[0] for row in NEW])

    # The console takes the new units at once; the renamed unit keeps what it sent (编号 FL).
    report = _client(rostered, "admin").get("/api/report").json()
    assert [(unit["id"], unit["name"], unit["submissions"]) for unit in report["units"]] == [
        ("FL", "德化县社会福利服务中心", 1), ("XZ", "德化县浔中镇敬老院", 0),
        ("JZ", "德化县救助管理站", 0)]
    page.goto(f"{rostered.url}/")
    expect(page.get_by_role("link", name="德化县救助管理站", exact=True)).to_be_visible()


@pytest.mark.slow
def test_a_wrong_oversized_or_unauthorised_upload_changes_nothing(rostered: Console,
                                                                  tmp_path: Path) -> None:
    roster = rostered.folder / "单位名单.xlsx"
    before = roster.read_bytes()
    admin, clerk = _client(rostered, "admin"), _client(rostered, "clerk")
    token = csrf_of(admin.get("/roster").text)
    wrong = _sheet(tmp_path / "wrong.xlsx", [NEW[0], ["某单位", "Q", "not-an-address"]])

    def post(client: httpx.Client, name: str, data: bytes, csrf: str) -> httpx.Response:
        return client.post("/roster/preview", data={"csrf": csrf},
                           files={"file": (name, data, "application/octet-stream")})

    refused = post(admin, "wrong.xlsx", wrong.read_bytes(), token)
    assert refused.status_code == 400
    assert "第3行" in refused.text and "not-an-address" in refused.text
    assert post(admin, "a.csv", b"x", token).status_code == 400  # not the roster's type
    assert post(admin, "big.xlsx", b"x" * (MAX_ROSTER_BYTES + 65 * 1024),
                token).status_code == 413
    assert post(admin, "wrong.xlsx", wrong.read_bytes(), "forged").status_code == 403
    clerk_token = csrf_of(clerk.get("/roster").text)
    assert post(clerk, "new.xlsx", _sheet(tmp_path / "n.xlsx", NEW).read_bytes(),
                clerk_token).status_code == 403
    assert clerk.post("/roster/apply", data={"csrf": clerk_token,
                                             "token": "0" * 32}).status_code == 403
    assert admin.post("/roster/apply", data={"csrf": token,
                                             "token": "0" * 32}).status_code == 400
    assert roster.read_bytes() == before
    assert not list(rostered.folder.glob("*.bak.xlsx"))
