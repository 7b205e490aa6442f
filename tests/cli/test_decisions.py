"""Coordinators' decisions and read-time credit, through the CLI, on SQLite and PostgreSQL:
real messages through a Maildir inbox and ``poll --once``, then ``credit``, ``accept``,
``reject``, ``add``, ``undo``, ``messages``, ``files`` and ``history``."""

from __future__ import annotations

import email
import getpass
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest

from safetymonth.config import DEFAULT_UNITS, load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.report import intake_rows
from tests.support.cli_runs import BYG, XZ, as_json, html_of, polled, run, sent, text_of
from tests.support.mailservers import write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

SPOOFED = b"Authentication-Results: mx.example.cn; dkim=fail; spf=fail"


def units(config: Path) -> dict[str, dict[str, Any]]:
    return {unit["name"]: unit for unit in as_json(config, "report")["units"]}


def registry(**changes: list[str]) -> list[dict[str, Any]]:
    """The default units[], with the addresses of the units named in ``changes`` replaced."""
    return [{"name": unit.name, "emails": changes.get(unit.name, unit.emails)}
            for unit in DEFAULT_UNITS]


def header(message: email.message.Message, name: str) -> str:
    return str(make_header(decode_header(message[name])))


# --- read-time credit -----------------------------------------------------------------------


def test_an_address_added_to_a_unit_credits_its_earlier_mail_without_a_re_poll(
        tmp_path: Path, mail_media: Media) -> None:
    head = "head@qq.example.com"  # the head of the funeral home, from a personal account
    config = polled(tmp_path, {"1.eml": samplemail.complete_submission(head, mail_media)})
    before = as_json(config, "report")
    assert before["unknown_senders"] == [{"address": head, "messages": 1}]
    assert units(config)[BYG]["submissions"] == 0

    write_config(tmp_path, units=registry(**{BYG: ["byg@dhmz.example.cn", head]}))
    report = as_json(config, "report")
    byg = {unit["name"]: unit for unit in report["units"]}[BYG]
    # complete_submission carries one passing summary, video and photo.
    assert (byg["submissions"], byg["documents_ok"], byg["videos_ok"], byg["photos_ok"],
            byg["complete"]) == (1, 1, 1, 1, True)
    assert report["unknown_senders"] == []
    assert BYG not in report["not_sent"]
    # The summary's intake table and the reminders read the same credit.
    rows = {row["name"]: row for row in intake_rows(load_config(config))}
    assert rows[BYG]["complete"] is True
    reminded = run(config, "remind", "--dry-run").stdout
    assert BYG not in reminded and XZ in reminded
    [listed] = as_json(config, "messages", "--unit", BYG)
    assert (listed["sender"], listed["unit"], listed["credited_by"]) == (head, BYG, "registry")

    write_config(tmp_path)  # the address taken out again: the mail is unknown again
    assert as_json(config, "report") == before


def test_a_domain_credits_every_address_under_it(tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {"1.eml": samplemail.failing_photo("li@byg.example.cn",
                                                                  mail_media)})
    write_config(tmp_path, units=registry(**{BYG: ["@byg.example.cn"]}))
    byg = units(config)[BYG]
    assert (byg["submissions"], byg["photos_ok"], byg["photos_failed"]) == (1, 0, 1)


def test_failed_authentication_stays_uncredited_until_a_coordinator_credits_it(
        tmp_path: Path, mail_media: Media) -> None:
    forged = samplemail.message(
        "byg@dhmz.example.cn", "材料", [samplemail.text_part("x"), samplemail.file_part(
            mail_media.photo, samplemail.utf8_name("照片.jpg"), "image/jpeg")],
        message_id="<forged@x>", extra=[SPOOFED])
    config = polled(tmp_path, {"1.eml": forged})
    before = as_json(config, "report")
    assert units(config)[BYG]["submissions"] == 0  # its From is registered, but forged
    assert before["suspicious"][0]["message_id"] == "<forged@x>"

    result = run(config, "credit", "<forged@x>", "--unit", BYG, "--reason", "电话核实是本单位所发",
                 "--by", "张三")
    assert "计入单位" in result.stdout and "决定人 张三" in result.stdout
    byg = units(config)[BYG]
    assert (byg["submissions"], byg["photos_ok"]) == (1, 1)
    [decision] = as_json(config, "history")
    assert decision == {"id": decision["id"], "action": "credit", "target": 1, "unit": BYG,
                        "unit_id": BYG, "reason": "电话核实是本单位所发", "by": "张三",
                        "at": decision["at"], "undone_at": None, "undone_by": None}

    run(config, "undo", str(decision["id"]))
    assert as_json(config, "report") == before
    [undone] = as_json(config, "history")
    assert undone["undone_at"] and undone["undone_by"] == getpass.getuser()


def test_identical_content_from_a_unit_counts_once(tmp_path: Path, mail_media: Media) -> None:
    sender = "fuli@dhmz.example.cn"
    config = polled(tmp_path, {  # the same files sent four times, each a new message
        f"{n}.eml": samplemail.complete_submission(sender, mail_media, f"<again{n}@x>")
        for n in range(4)})
    fuli = units(config)["德化县社会福利中心"]
    assert (fuli["submissions"], fuli["documents_ok"], fuli["videos_ok"], fuli["photos_ok"]) \
        == (4, 1, 1, 1)


def test_a_unit_id_keeps_its_history_when_the_unit_is_renamed(
        tmp_path: Path, mail_media: Media) -> None:
    old = [{"id": "byg", "name": BYG, "emails": ["byg@dhmz.example.cn"]}]
    config = polled(tmp_path, {"1.eml": samplemail.complete_submission("x@qq.example.com",
                                                                       mail_media, "<q@x>")},
                    units=old)
    run(config, "credit", "<q@x>", "--unit", "byg", "--reason", "单位负责人个人邮箱")
    write_config(tmp_path, units=[{**old[0], "name": "德化县殡仪服务中心"}])
    [unit] = as_json(config, "report")["units"]
    assert (unit["id"], unit["name"], unit["submissions"], unit["complete"]) == \
        ("byg", "德化县殡仪服务中心", 1, True)
    [listed] = as_json(config, "messages", "--unit", "德化县殡仪服务中心")
    assert (listed["unit"], listed["unit_id"], listed["credited_by"]) == \
        ("德化县殡仪服务中心", "byg", "decision")


# --- accept, reject, add, undo --------------------------------------------------------------


def test_accept_and_reject_follow_into_the_report_and_undo_restores_it(
        tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {
        "1.eml": samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media),
        "2.eml": samplemail.complete_submission("fuli@dhmz.example.cn", mail_media)})
    before = as_json(config, "report")
    files = as_json(config, "files", "--unit", XZ)
    [small] = files  # failing_photo carries one 1280×960 photo
    assert (small["kind"], small["width"], small["height"], small["ok"], small["verdict_ok"]) \
        == ("photo", 1280, 960, False, False)
    assert [item["id"] for item in as_json(config, "files", "--failed")] == [small["id"]]

    run(config, "accept", str(small["id"]), "--reason", "演练现场唯一的照片")
    [accepted] = as_json(config, "files", "--unit", XZ)
    assert (accepted["ok"], accepted["verdict_ok"], accepted["decision"], accepted["reason"]) \
        == (True, False, "accept", "演练现场唯一的照片")
    assert as_json(config, "files", "--failed") == []
    xz = units(config)[XZ]
    assert (xz["photos_ok"], xz["photos_failed"]) == (1, 0)
    assert as_json(config, "report")["decisions"] == 1

    video = next(item for item in as_json(config, "files") if item["kind"] == "video")
    run(config, "reject", str(video["id"]), "--reason", "视频内容与安全月无关")
    fuli = units(config)["德化县社会福利中心"]
    assert (fuli["videos_ok"], fuli["videos_failed"], fuli["complete"]) == (0, 1, False)

    for decision in reversed(as_json(config, "history")):
        run(config, "undo", str(decision["id"]))
    assert as_json(config, "report") == before
    assert run(config, "undo", "1", code=2).stderr.startswith("safetymonth: decision 1 was undone")


def test_add_stores_checks_and_credits_files_received_outside_mail(
        tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {})
    before = as_json(config, "report")
    folder = tmp_path / "downloaded"
    folder.mkdir()
    (folder / "应急演练视频.mp4").write_bytes(mail_media.video)
    (folder / "小照片.jpg").write_bytes(mail_media.small_photo)
    result = run(config, "add", "--unit", BYG, "--reason", "163超大附件，已下载",
                 str(folder / "应急演练视频.mp4"), str(folder / "小照片.jpg"))
    assert "补充文件" in result.stdout
    files = {item["name"]: item for item in as_json(config, "files", "--unit", BYG)}
    assert set(files) == {"应急演练视频.mp4", "小照片.jpg"}
    assert (files["应急演练视频.mp4"]["ok"], files["小照片.jpg"]["ok"]) == (True, False)
    stored = tmp_path / "storage" / "files"
    copies = {path.read_bytes() for path in stored.rglob("*") if path.is_file()}
    assert {mail_media.video, mail_media.small_photo} <= copies  # byte-identical in the store
    byg = units(config)[BYG]
    assert (byg["submissions"], byg["videos_ok"], byg["photos_failed"]) == (1, 1, 1)
    [added] = as_json(config, "messages", "--unit", BYG)
    assert (added["added"], added["sender"], added["files"]) == (True, None, 2)

    [decision] = as_json(config, "history")
    assert (decision["action"], decision["target"], decision["unit"]) == \
        ("add", added["id"], BYG)
    run(config, "undo", str(decision["id"]))
    assert as_json(config, "report") == before
    assert as_json(config, "messages") == []


def test_notify_replies_to_the_units_own_address_in_the_bureaus_voice(
        tmp_path: Path, mail_media: Media) -> None:
    campaign = {"office": "德化县民政局安全月办公室", "contact": "0595-23522222"}
    config = polled(tmp_path, {"1.eml": samplemail.complete_submission(
        "head@qq.example.com", mail_media, "<q@x>")}, campaign=campaign,
        web={"public_url": "https://aqgly.mzj.example.gov.cn"})
    replies = sent(tmp_path)  # the poll's reply to the unknown sender
    assert len(replies) == 1 and "0595-23522222" in text_of(replies[0])
    assert header(replies[0], "From").startswith("德化县民政局安全月办公室")

    run(config, "credit", "1", "--unit", BYG, "--reason", "馆长个人邮箱", "--notify")
    known = {item["Message-ID"] for item in replies}
    [notice] = [item for item in sent(tmp_path) if item["Message-ID"] not in known]
    assert notice["To"] == "byg@dhmz.example.cn"  # the unit's registered address only
    assert notice["Auto-Submitted"] == "auto-generated"
    body = text_of(notice)
    assert "已计入贵单位" in body and "馆长个人邮箱" in body and "0595-23522222" in body
    [link] = [item for item in as_json(config, "links") if item["unit"] == BYG]
    assert link["url"] in body and link["url"] in html_of(notice)  # to send a file again
    assert header(notice, "From").startswith("德化县民政局安全月办公室")


def test_decisions_refuse_what_does_not_exist_in_one_line(
        tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {"1.eml": samplemail.failing_photo("xzjly@dhmz.example.cn",
                                                                  mail_media, "<f@x>")})
    for args, said in [
        (["credit", "<f@x>", "--unit", "没有这个单位", "--reason", "x"], "no unit"),
        (["credit", "<nope@x>", "--unit", BYG, "--reason", "x"], "no message"),
        (["accept", "999", "--reason", "x"], "no file"),
        (["reject", "1", "--reason", "  "], "--reason"),
        (["undo", "7"], "no decision"),
        (["files", "--unit", "没有这个单位"], "no unit")]:
        result = run(config, *args, code=2)
        assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert as_json(config, "history") == []


def test_messages_lists_every_message_with_its_credit(tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {
        "1.eml": samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media, "<a@x>"),
        "2.eml": samplemail.complete_submission("who@qq.example.com", mail_media, "<b@x>"),
        "3.eml": samplemail.auto_reply("byg@dhmz.example.cn", "<c@x>")})
    listed = {item["message_id"]: item for item in as_json(config, "messages")}
    assert (listed["<a@x>"]["unit"], listed["<a@x>"]["files"]) == (XZ, 1)
    assert listed["<b@x>"]["unit"] is None and listed["<b@x>"]["files"] == 3
    assert listed["<c@x>"]["unit"] is None and listed["<c@x>"]["not_credited"]
    text = run(config, "messages").stdout
    assert "who@qq.example.com" in text and XZ in text


def _cells(text: str) -> list[list[str]]:
    """The terminal table's rows (tab-separated), header first."""
    return [line.split("\t") for line in text.splitlines()]


def test_terminal_tables_say_in_chinese_what_the_json_keeps_as_codes(
        tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {
        "1.eml": samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media, "<a@x>"),
        "2.eml": samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<b@x>")})
    photo = next(item for item in as_json(config, "files") if not item["ok"])
    accepted = run(config, "accept", str(photo["id"]), "--reason", "唯一的演练照片",
                   "--by", "张三").stdout
    assert accepted.startswith("决定 ") and f"认定合格 文件“{photo['name']}”" in accepted

    # The JSON keeps its codes (scripts read them) ...
    files = as_json(config, "files")
    assert {item["kind"] for item in files} == {"photo", "video", "document"}
    assert {item["decision"] for item in files} == {"accept", None}
    assert {item["credited_by"] for item in as_json(config, "messages")} == {"registry"}
    assert as_json(config, "history")[0]["action"] == "accept"
    # ... the tables a clerk reads say them in Chinese.
    codes = {"registry", "decision", "photo", "video", "document", "accept", "credit"}
    header, *rows = _cells(run(config, "files").stdout)
    column = {title: index for index, title in enumerate(header)}
    assert {row[column["类型"]] for row in rows} == {"照片", "视频", "文档"}
    assert {row[column["决定"]] for row in rows} == {"认定合格", "-"}
    header, *rows = _cells(run(config, "messages").stdout)
    assert {row[header.index("计入依据")] for row in rows} == {"登记名单"}
    header, *rows = _cells(run(config, "history").stdout)
    assert rows[0][header.index("决定")] == "认定合格"
    assert rows[0][header.index("对象")] == f"文件“{photo['name']}”（编号 {photo['id']}）"
    for command in ("files", "messages", "history"):
        cells = {cell for row in _cells(run(config, command).stdout) for cell in row}
        assert not cells & codes, command


def test_a_question_is_put_aside_and_brought_back(tmp_path: Path, mail_media: Media) -> None:
    question = samplemail.message("asker@163.example.com", "请问视频格式有什么要求？",
                                  [samplemail.text_part("请问视频格式有什么要求？")],
                                  message_id="<q@x>")
    config = polled(tmp_path, {
        "1.eml": question,
        "2.eml": samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media, "<f@x>")})
    before = as_json(config, "report")
    assert [item["address"] for item in before["unknown_senders"]] == ["asker@163.example.com"]

    result = run(config, "dismiss", "<q@x>", "--reason", "咨询视频格式，已电话答复", "--by", "张三")
    assert "已处理" in result.stdout
    assert as_json(config, "report")["unknown_senders"] == []  # handled: no longer listed
    [decision] = as_json(config, "history")
    assert (decision["action"], decision["target"], decision["unit"], decision["by"],
            decision["reason"]) == ("dismiss", 1, None, "张三", "咨询视频格式，已电话答复")
    # Once only; and mail credited to a unit is no question to put aside.
    assert "already" in run(config, "dismiss", "1", "--reason", "x", code=2).stderr
    assert "credited" in run(config, "dismiss", "<f@x>", "--reason", "x", code=2).stderr

    run(config, "undo", str(decision["id"]))
    assert as_json(config, "report") == before
