"""Replies in the bureau's voice, through ``poll --once`` and ``remind`` on both engines:
the deadline's wording before and after it, ``remind --overdue``, and reply templates
overridden from ``mailbox.templates_dir``."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.cli_runs import polled, run, sent, text_of
from tests.support.mailservers import drop, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

LATE = "已过截止日期"


def test_before_the_deadline_a_reply_gives_the_date(tmp_path: Path, mail_media: Media) -> None:
    deadline = date.today() + timedelta(days=30)
    polled(tmp_path, {"1.eml": samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media)},
           campaign={"deadline": deadline.isoformat()})
    [reply] = sent(tmp_path)
    body = text_of(reply)
    assert f"请在 {deadline.year}年{deadline.month}月{deadline.day}日 前补齐" in body
    assert LATE not in body


def test_after_the_deadline_replies_ask_for_a_late_submission_and_overdue_chases(
        tmp_path: Path, mail_media: Media) -> None:
    deadline = date.today() - timedelta(days=3)
    campaign = {"deadline": deadline.isoformat(), "reminder_interval_days": 2}
    config = polled(tmp_path, {
        "1.eml": samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media)},
        campaign=campaign)
    [reply] = sent(tmp_path)
    assert "已过截止日期（" in text_of(reply) and "请尽快补报" in text_of(reply)
    assert "前补齐" not in text_of(reply)

    plain = run(config, "remind").stdout
    assert "跳过，已过截止日期" in plain and len(sent(tmp_path)) == 1  # nobody chased
    chased = run(config, "remind", "--overdue").stdout
    assert "德化县浔中镇敬老院：已催报 xzjly@dhmz.example.cn" in chased
    reminders = [item for item in sent(tmp_path) if "【提醒】" in str(item["Subject"]) or
                 item["Auto-Submitted"] == "auto-generated"]
    assert {item["To"] for item in reminders} == {
        "xzjly@dhmz.example.cn", "jiuzhu@dhmz.example.cn", "byg@dhmz.example.cn",
        "fuli@dhmz.example.cn"}
    assert all("请尽快补报" in text_of(item) for item in reminders)
    again = run(config, "remind", "--overdue").stdout  # within the interval: once only
    assert "跳过，已于 " in again
    assert len(sent(tmp_path)) == 1 + len(reminders)


def test_reply_templates_come_from_mailbox_templates_dir(
        tmp_path: Path, mail_media: Media) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "reply.txt.j2").write_text(
        "{{ greeting }}：收到，共 {{ files|length }} 个文件。\n{{ signature }} {{ contact }}\n",
        encoding="utf-8")
    polled(tmp_path, {"1.eml": samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media)},
           mailbox={"source": "maildir:inbox", "outbox": "maildir:outbox",
                    "templates_dir": "templates"},
           campaign={"office": "德化县民政局", "contact": "0595-1234"})
    [reply] = sent(tmp_path)
    assert text_of(reply) == "德化县浔中镇敬老院：收到，共 1 个文件。\n德化县民政局 0595-1234\n"
    html = next(part for part in reply.walk() if part.get_content_type() == "text/html")
    assert "德化县民政局" in html.get_payload(decode=True).decode("utf-8")  # built-in HTML


def test_a_missing_templates_dir_is_a_configuration_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, mailbox={"source": "maildir:inbox",
                                             "outbox": "maildir:outbox",
                                             "templates_dir": "nowhere"})
    drop(tmp_path / "inbox", "x.eml", b"From: a@b.cn\r\n\r\nx")
    result = run(config, "poll", "--once", code=2)
    assert "mailbox.templates_dir" in result.stderr
