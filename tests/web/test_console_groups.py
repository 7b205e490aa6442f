"""Levels in the console: a user of one group (``user add --group``) sees only that group's
units everywhere, and another group's unit, file, message or decision is 404 to them, looked
at or decided on; a user of every group gets a row per group above the units and a filter.
Real intake over Maildir, a real ``serve``, Debian's Chromium; SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from playwright.sync_api import BrowserContext, Page, expect

from safetymonth.cli import main
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.console import Console, cli, csrf_of, log_in, serve
from tests.support.mailservers import drop, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

GROUPS = [{"id": "xunzhong", "name": "浔中镇民政办"}, {"id": "longxun", "name": "龙浔镇民政办"}]
UNITS = [
    {"name": "德化县社会福利中心", "emails": ["fuli@dhmz.example.cn"], "group": "xunzhong"},
    {"name": "德化县浔中镇敬老院", "emails": ["xzjly@dhmz.example.cn"], "group": "浔中镇民政办"},
    {"name": "德化县殡仪馆", "emails": ["byg@dhmz.example.cn"], "group": "longxun"},
    {"name": "德化县救助管理站", "emails": ["jiuzhu@dhmz.example.cn"], "group": "longxun"},
    {"name": "德化县儿童福利院", "emails": ["@etfly.example.cn"]},
]
OURS = ["德化县社会福利中心", "德化县浔中镇敬老院"]  # xunzhong's units, as UNITS says
THEIRS = "德化县殡仪馆"
PASSWORD = "group-pass-long-1"
FORGED = b"Authentication-Results: mx.example.cn; dkim=fail; spf=fail"


@pytest.fixture
def grouped(tmp_path: Path, mail_media: Media) -> Iterator[Console]:
    """Mail from both groups (a complete unit in each, a failing photo in xunzhong, a forged
    mail from each group's address: credited to no unit), users of each level."""
    config = write_config(tmp_path, units=UNITS, groups=GROUPS)
    inbox = tmp_path / "inbox"
    drop(inbox, "1.eml", samplemail.complete_submission("fuli@dhmz.example.cn", mail_media))
    drop(inbox, "2.eml", samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media))
    drop(inbox, "3.eml", samplemail.complete_submission("byg@dhmz.example.cn", mail_media))
    for number, sender in ((4, "xzjly@dhmz.example.cn"), (5, "byg@dhmz.example.cn")):
        drop(inbox, f"{number}.eml", samplemail.message(
            sender, f"forged {number}", [samplemail.text_part("x")],
            message_id=f"<forged{number}@x>", extra=[FORGED]))
    cli(config, "poll", "--once")
    for name, role, group in (("admin", "admin", None), ("xz", "coordinator", "xunzhong"),
                              ("xzview", "viewer", "浔中镇民政办")):
        cli(config, "user", "add", name, "--role", role,
            *(["--group", group] if group else []), stdin=PASSWORD + "\n")
    yield from serve(config)


def _client(console: Console, user: str) -> httpx.Client:
    client = console.client()
    assert log_in(client, user, PASSWORD).status_code == 303
    return client


def _log_in(page: Page, console: Console, user: str) -> None:
    page.goto(f"{console.url}/login")
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("table.board").last).to_be_visible()


def _unit_links(page: Page) -> list[str]:
    return page.locator("table.board:not(.groups) tbody tr td:first-child a").all_inner_texts()


def test_a_group_coordinator_sees_only_the_groups_units_in_the_browser(
        grouped: Console, browser: BrowserContext) -> None:
    page = browser.new_page()
    _log_in(page, grouped, "xz")
    assert _unit_links(page) == OURS
    expect(page.locator("table.groups")).to_have_count(0)
    expect(page.locator(".group-scope")).to_contain_text("浔中镇民政办")
    expect(page.locator(".counts")).to_contain_text("未计入的邮件 1")
    # ?group= cannot widen what they see
    page.goto(f"{grouped.url}/?group=longxun")
    assert _unit_links(page) == OURS

    page.get_by_role("link", name=OURS[1], exact=True).click()
    expect(page.locator("h1")).to_contain_text(OURS[1])
    response = page.goto(f"{grouped.url}/units/{quote(THEIRS)}")
    assert response is not None and response.status == 404

    page.goto(f"{grouped.url}/uncredited")
    expect(page.locator("body")).to_contain_text("forged 4")
    expect(page.locator("body")).not_to_contain_text("forged 5")
    options = page.locator("select[name=unit] option").all_inner_texts()
    assert options[1:] == [OURS[0], OURS[1]]

    page.goto(f"{grouped.url}/remind")
    expect(page.locator("main")).to_contain_text(OURS[1])
    expect(page.locator("main")).not_to_contain_text(THEIRS)


def test_an_unscoped_user_gets_a_row_per_group_and_a_filter(
        grouped: Console, browser: BrowserContext) -> None:
    page = browser.new_page()
    _log_in(page, grouped, "admin")
    assert _unit_links(page) == [unit["name"] for unit in UNITS]
    groups = page.locator("table.groups tbody tr")
    expect(groups).to_have_count(2)
    cells = [[cell.strip() for cell in groups.nth(index).locator("td").all_inner_texts()]
             for index in range(2)]
    # xunzhong: one of two complete, none without mail; longxun: one of two, 救助管理站 sent
    # nothing. The deadline (the coming 24 June) has not passed: nothing overdue.
    assert cells == [["浔中镇民政办", "2", "1/2", "0", "0"], ["龙浔镇民政办", "2", "1/2", "1", "0"]]
    groups.nth(1).get_by_role("link", name="龙浔镇民政办").click()
    assert _unit_links(page) == ["德化县殡仪馆", "德化县救助管理站"]
    page.get_by_role("link", name="未提交").click()
    assert _unit_links(page) == ["德化县救助管理站"]


@pytest.mark.slow
def test_another_groups_unit_file_message_and_decision_are_404_and_refused(
        grouped: Console) -> None:
    admin, ours = _client(grouped, "admin"), _client(grouped, "xz")
    files = admin.get("/api/files").json()
    theirs = next(row for row in files if row["unit"] == THEIRS)
    mine = next(row for row in files if row["unit"] == OURS[1])
    messages = admin.get("/api/messages").json()
    forged_theirs = next(row for row in messages if row["sender"] == "byg@dhmz.example.cn"
                         and row["unit"] is None)
    # a decision about their unit, made by the admin
    token = csrf_of(admin.get("/").text)
    assert admin.post(f"/files/{theirs['id']}/reject",
                      data={"csrf": token, "reason": "不清楚"}).status_code == 303
    [decision] = admin.get("/api/history").json()

    token = csrf_of(ours.get("/").text)
    for path in (f"/units/{quote(THEIRS)}", f"/files/{theirs['id']}",
                 f"/files/{theirs['id']}/thumb", f"/units/{quote(THEIRS)}/files.zip",
                 f"/api/files?unit={quote(THEIRS)}", "/documents", "/documents/notice",
                 "/documents/letter/zip"):
        assert ours.get(path).status_code == 404, path
    assert "/documents" not in ours.get("/").text  # the bureau's own documents
    sheet = ours.get("/links/print").text  # the links a group hands out: its own units'
    assert all(name in sheet for name in OURS) and THEIRS not in sheet
    assert ours.get(f"/files/{mine['id']}").status_code == 200
    for path, data in ((f"/files/{theirs['id']}/accept", {}),
                       (f"/files/{theirs['id']}/assign", {"deliverable": "photos"}),
                       (f"/links/rotate/{quote(THEIRS)}", {"confirm": "yes"}),
                       (f"/messages/{forged_theirs['id']}/credit", {"unit": OURS[0]}),
                       (f"/messages/{forged_theirs['id']}/dismiss", {}),
                       (f"/messages/{mine['message']}/credit", {"unit": THEIRS}),
                       (f"/decisions/{decision['id']}/undo", {})):
        response = ours.post(path, data={"csrf": token, "reason": "试试", **data})
        assert response.status_code == 404, path
    # nothing was decided: the admin's one decision stands, not undone
    assert [(row["id"], row["undone_at"]) for row in admin.get("/api/history").json()] == [
        (decision["id"], None)]
    assert ours.get("/api/history").json() == []

    report = ours.get("/api/report").json()
    assert [unit["name"] for unit in report["units"]] == OURS
    assert [row["id"] for row in report["groups"]] == ["xunzhong"]  # theirs is not shown
    assert [item["sender"] for item in report["suspicious"]] == ["xzjly@dhmz.example.cn"]
    assert {row["unit"] for row in ours.get("/api/files").json()} == {OURS[0], OURS[1]}
    assert {row["sender"] for row in ours.get("/api/messages").json()} == {
        "fuli@dhmz.example.cn", "xzjly@dhmz.example.cn"}
    table = list(csv.reader(io.StringIO(ours.get("/report.csv").content.decode("utf-8-sig"))))
    assert [row[0] for row in table[1:]] == OURS
    # their own unit's file they may judge
    assert ours.post(f"/files/{mine['id']}/accept",
                     data={"csrf": token, "reason": "看过原图"}).status_code == 303
    # a viewer of the group looks, never decides
    viewer = _client(grouped, "xzview")
    assert [unit["name"] for unit in viewer.get("/api/report").json()["units"]] == OURS
    assert viewer.post(f"/files/{mine['id']}/reject", data={
        "csrf": csrf_of(viewer.get("/").text), "reason": "x"}).status_code == 403


@pytest.mark.slow
def test_user_add_group_is_checked_and_listed(grouped: Console) -> None:
    listed = json.loads(cli(grouped.config_path, "user", "list", "--json"))
    assert {user["name"]: user["group"] for user in listed} == {
        "admin": None, "xz": "xunzhong", "xzview": "xunzhong"}
    lines = cli(grouped.config_path, "user", "list").splitlines()
    assert [line.split("\t")[3] for line in lines] == ["-", "xunzhong", "xunzhong"]
    for role, group, says in (("coordinator", "某镇", "没有分组"),
                              ("admin", "xunzhong", "不能限定分组")):
        result = CliRunner().invoke(main, ["--config", str(grouped.config_path), "user",
                                           "add", "x", "--role", role, "--group", group],
                                    input=PASSWORD + "\n")
        assert result.exit_code == 1 and says in result.output
