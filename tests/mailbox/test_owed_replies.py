"""Replies and reminders per deliverable (the Dehua campaign: 经验做法 owed by each 乡镇 by 5
June, 活动情况总结 by each institution by 24 June), with the clock injected: a reply says what
each file counts for, a late one marked late, and what is still owed with its own deadline;
reminders go ``days_before`` each deadline to those lacking it, then every
``overdue_every_days`` while overdue, worded 已逾期, only to those who still owe it."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from safetymonth.config import Config, load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.reminders import queue_reminders
from safetymonth.mailbox.service import poll_once
from safetymonth.report import report_from_repository
from safetymonth.samples import make_docx
from safetymonth.storage.repository import ReplyRecord, open_repository
from tests.support.mailservers import drop, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

BEIJING = ZoneInfo("Asia/Shanghai")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CAMPAIGN = {"deadline": "2024-06-24",
            "reminders": {"days_before": [3, 1], "overdue_every_days": 2},
            "deliverables": [
                {"id": "experience", "name": "经验做法", "kind": "document",
                 "deadline": "2024-06-05", "owed_by": "group", "match": ["经验", "做法"]},
                {"id": "summary", "name": "活动情况总结", "kind": "document",
                 "match": ["总结"]}]}
GROUPS = [{"id": "xunzhong", "name": "浔中镇民政办", "emails": ["xzmzb@dhmz.example.cn"]},
          {"id": "gaide", "name": "盖德乡民政办", "emails": ["gdmzb@dhmz.example.cn"]}]
UNITS = [{"name": "浔中镇敬老院", "id": "xzjly", "emails": ["xzjly@dhmz.example.cn"],
          "group": "xunzhong"},
         {"name": "盖德乡敬老院", "id": "gdjly", "emails": ["gdjly@dhmz.example.cn"],
          "group": "gaide"}]


def at(day: int, hour: int = 9) -> datetime:
    return datetime.combine(date(2024, 6, day), time(hour), BEIJING).astimezone(UTC)


def text_of(reply: ReplyRecord) -> str:
    message = email.message_from_bytes(reply.body, policy=email.policy.default)
    return str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def send(config: Config, tmp_path: Path, day: int, sender: str, name: str) -> str:
    """Deliver one mail with a real .docx on ``day``; the text of the reply it got."""
    path = make_docx(tmp_path / f"{sender}-{day}.docx", f"{sender} {name}")
    drop(tmp_path / "inbox", f"{sender}-{day}.eml", samplemail.message(sender, "报送", [
        samplemail.text_part("请查收。"),
        samplemail.file_part(path.read_bytes(), samplemail.utf8_name(name), DOCX)]))
    poll_once(config, clock=lambda: at(day))
    with open_repository(config) as store:
        return text_of([reply for reply in store.replies()
                        if reply.kind == "reply" and reply.recipient == sender][-1])


def remind(config: Config, day: int) -> dict[str, str]:
    """``remind`` on ``day`` (its clock and date injected): the reminders queued, by
    recipient, with their text and subject."""
    with open_repository(config, clock=lambda: at(day)) as store:
        before = {reply.id for reply in store.replies()}
        queue_reminders(config, store, today=date(2024, 6, day))
        return {reply.recipient: f"{reply.headers['Subject']}\n{text_of(reply)}"
                for reply in store.replies()
                if reply.kind == "reminder" and reply.id not in before}


def test_replies_say_what_each_file_counts_for_and_what_is_owed(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, campaign=CAMPAIGN, groups=GROUPS, units=UNITS))
    reply = send(config, tmp_path, 3, "xzmzb@dhmz.example.cn", "浔中镇经验做法.docx")
    assert reply.startswith("浔中镇民政办：")  # the group's own address: the group
    assert "计入“经验做法”" in reply and "逾期" not in reply
    assert "浔中镇民政办的各项材料均已齐全" in reply
    # A summary is each institution's to send: from the group's address it counts for nothing.
    reply = send(config, tmp_path, 4, "xzmzb@dhmz.example.cn", "浔中镇活动总结.docx")
    assert "未能判断计入哪项材料" in reply
    with open_repository(config) as store:
        report = report_from_repository(store, config, at(4))
    assert [(item["unit"], item["name"]) for item in report["unassigned"]] == \
        [("浔中镇民政办", "浔中镇活动总结.docx")]
    assert all(item["accepted"] == 0 for unit in report["units"]
               for item in unit["deliverables"])

    reply = send(config, tmp_path, 4, "gdjly@dhmz.example.cn", "通讯录.docx")
    assert "未能判断计入哪项材料" in reply
    assert "还缺少：\n   - 活动情况总结：请在 2024年6月24日 前报送" in reply
    assert "经验做法 2024年6月5日、活动情况总结 2024年6月24日" in reply

    reply = send(config, tmp_path, 7, "gdjly@dhmz.example.cn", "盖德乡经验做法.docx")
    assert "计入“经验做法”；已过该项截止日期（2024年6月5日），仍予计入，记为逾期提交" in reply

    reply = send(config, tmp_path, 25, "xzjly@dhmz.example.cn", "其他材料.docx")
    assert "活动情况总结：已逾期（截止日期 2024年6月24日），请尽快补报" in reply


def test_reminders_before_each_deadline_then_while_overdue(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, campaign=CAMPAIGN, groups=GROUPS, units=UNITS))
    send(config, tmp_path, 1, "xzjly@dhmz.example.cn", "活动情况总结.docx")
    groups = {"xzmzb@dhmz.example.cn", "gdmzb@dhmz.example.cn"}

    assert remind(config, 1) == {}  # 5 June - 3 days is the 2nd
    sent = remind(config, 2)
    assert set(sent) == groups  # the units owe no 经验做法 themselves; the summary is far
    assert all("经验做法：请在 2024年6月5日 前报送" in text for text in sent.values())
    assert all("已逾期" not in text for text in sent.values())
    assert remind(config, 2) == {}  # once a day
    assert remind(config, 3) == {}
    assert set(remind(config, 4)) == groups  # 5 June - 1 day

    sent = remind(config, 6)
    assert set(sent) == groups
    assert all("经验做法：已逾期（截止日期 2024年6月5日），请尽快补报" in text and
               "（已逾期）" in text.splitlines()[0] for text in sent.values())
    assert remind(config, 7) == {}  # every 2 days while overdue
    send(config, tmp_path, 7, "xzxfy@other.example.cn", "x.docx")  # a stranger: nothing
    send(config, tmp_path, 7, "xzmzb@dhmz.example.cn", "经验做法.docx")  # late, but done
    assert set(remind(config, 8)) == {"gdmzb@dhmz.example.cn"}  # only who still owes it

    sent = remind(config, 21)  # 24 June - 3 days: the institution without its summary
    assert set(sent) == {"gdjly@dhmz.example.cn", "gdmzb@dhmz.example.cn"}
    assert "活动情况总结：请在 2024年6月24日 前报送" in sent["gdjly@dhmz.example.cn"]
    assert "经验做法" not in sent["gdjly@dhmz.example.cn"]
    assert remind(config, 22) == {}
    assert set(remind(config, 23)) == {"gdjly@dhmz.example.cn", "gdmzb@dhmz.example.cn"}
    assert remind(config, 24) == {}
    sent = remind(config, 25)  # the summary overdue now; 盖德乡's 经验做法 two days on
    assert set(sent) == {"gdjly@dhmz.example.cn", "gdmzb@dhmz.example.cn"}
    assert "活动情况总结：已逾期（截止日期 2024年6月24日）" in sent["gdjly@dhmz.example.cn"]
