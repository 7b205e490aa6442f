"""A file counted for a deliverable from the console, in a real browser (Debian's Chromium
through Playwright, against a real ``safetymonth serve``): each file of a unit's page says
what it counts for and has a select of the deliverables its kind may count for; choosing one
asks for a reason, and the decision is recorded and undoable like the others."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.browser import give_reason, sign_in
from tests.support.console import PASSWORDS, ROLES, Console, cli, serve
from tests.support.mailservers import drop, write_config

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CAMPAIGN = {"deadline": "2099-06-24", "deliverables": [
    {"id": "experience", "name": "经验做法", "kind": "document", "match": ["经验"]},
    {"id": "summary", "name": "活动情况总结", "kind": "document", "match": ["总结"]},
    {"id": "photos", "name": "活动照片", "kind": "photo"}]}
UNIT = "浔中镇敬老院"


@pytest.fixture
def console(tmp_path: Path, mail_media: Media) -> Iterator[Console]:
    config = write_config(tmp_path, campaign=CAMPAIGN, units=[
        {"name": UNIT, "id": "xzjly", "emails": ["xzjly@dhmz.example.cn"]}])
    drop(tmp_path / "inbox", "1.eml", samplemail.message(
        "xzjly@dhmz.example.cn", "报送材料", [
            samplemail.text_part("请查收。"),
            samplemail.file_part(mail_media.document, samplemail.utf8_name("通讯录.docx"),
                                 DOCX),
            samplemail.file_part(mail_media.photo, samplemail.utf8_name("现场.jpg"),
                                 "image/jpeg")]))
    cli(config, "poll", "--once")
    for name, role in ROLES.items():
        cli(config, "user", "add", name, "--role", role, stdin=PASSWORDS[name] + "\n")
    yield from serve(config)


def test_a_file_is_counted_for_a_deliverable_from_its_select(console: Console,
                                                            browser: BrowserContext) -> None:
    page = browser.new_page()
    sign_in(page, console.url, "clerk", PASSWORDS["clerk"])
    page.goto(f"{console.url}/units/xzjly")
    document = page.locator("li.file", has_text="通讯录.docx")
    photo = page.locator("li.file", has_text="现场.jpg")
    expect(document.locator(".counted")).to_have_text("未归入任何材料")
    expect(photo.locator(".counted")).to_have_text("计入：活动照片")
    expect(page.locator("ul.owed")).to_contain_text("活动情况总结（截止 2099-06-24）：未完成 0/1")
    # Only the deliverables a document may count for.
    select = document.get_by_label("计入材料")
    assert select.evaluate("e => [...e.options].map(o => o.textContent)") == \
        ["请选择…", "经验做法", "活动情况总结"]
    select.select_option(label="活动情况总结")
    document.get_by_role("button", name="归入…").click()
    give_reason(page, "归入材料的理由：", "电话确认是活动总结")
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("归入“活动情况总结”")
    expect(notice).to_contain_text("电话确认是活动总结")
    document = page.locator("li.file", has_text="通讯录.docx")
    expect(document.locator(".counted")).to_have_text("计入：活动情况总结")
    expect(page.locator("ul.owed")).to_contain_text("活动情况总结（截止 2099-06-24）：已完成 1/1")
    api = page.request.get(f"{console.url}/api/report").json()
    assert api["unassigned"] == []
    assert [(item["id"], item["accepted"], item["status"])
            for item in api["units"][0]["deliverables"]] == [
        ("experience", 0, "open"), ("summary", 1, "done"), ("photos", 1, "done")]
    [decision] = json.loads(cli(console.config_path, "history", "--json"))
    assert (decision["action"], decision["deliverable"], decision["by"]) == \
        ("assign", "summary", "clerk")

    notice.get_by_role("button", name="撤销").click()
    expect(page.get_by_role("status")).to_contain_text("已撤销决定")
    expect(page.locator("li.file", has_text="通讯录.docx").locator(".counted")) \
        .to_have_text("未归入任何材料")
    assert [item["name"] for item in
            page.request.get(f"{console.url}/api/report").json()["unassigned"]] == ["通讯录.docx"]

    # A viewer sees what each file counts for, but no select.
    viewer = browser.new_page()
    sign_in(viewer, console.url, "viewer", PASSWORDS["viewer"])
    viewer.goto(f"{console.url}/units/xzjly")
    expect(viewer.locator("li.file", has_text="现场.jpg").locator(".counted")) \
        .to_have_text("计入：活动照片")
    expect(viewer.get_by_label("计入材料")).to_have_count(0)
