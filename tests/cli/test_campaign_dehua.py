"""The Dehua 2024 campaign configured as its notice says (seeds/dehua-2024-notice.txt): every
乡镇 sends at least one 经验做法 by 5 June, every institution its 活动情况总结 by 24 June. Mail
from institutions and from a 乡镇's own address goes through Dovecot (IMAP), received at
injected times, and the report's statuses are read before and after each deadline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from safetymonth.config import load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.service import poll_once
from safetymonth.report import format_report, report_from_repository, write_clerk_xlsx
from safetymonth.samples import make_docx
from safetymonth.storage.repository import open_repository
from tests.support.mailservers import PASSWORD, Dovecot, write_config
from tests.support.watching import PASSWORD_ENV

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

BEIJING = ZoneInfo("Asia/Shanghai")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# campaign: as DESIGN.md's example of the notice.
CAMPAIGN = {"deadline": "2024-06-24", "deliverables": [
    {"id": "experience", "name": "经验做法", "kind": "document", "count": 1,
     "deadline": "2024-06-05", "owed_by": "group", "match": ["经验", "做法"]},
    {"id": "summary", "name": "活动情况总结", "kind": "document", "count": 1,
     "match": ["总结"]}]}
GROUPS = [{"id": "xunzhong", "name": "浔中镇民政办", "emails": ["xzmzb@dhmz.example.cn"]},
          {"id": "gaide", "name": "盖德乡民政办", "emails": ["gdmzb@dhmz.example.cn"]}]
UNITS = [{"name": "浔中镇敬老院", "id": "xzjly", "emails": ["xzjly@dhmz.example.cn"],
          "group": "xunzhong"},
         {"name": "浔中镇幸福院", "id": "xzxfy", "emails": ["xzxfy@dhmz.example.cn"],
          "group": "xunzhong"},
         {"name": "盖德乡敬老院", "id": "gdjly", "emails": ["gdjly@dhmz.example.cn"],
          "group": "gaide"}]


def beijing(day: int, hour: int) -> datetime:
    return datetime(2024, 6, day, hour, tzinfo=BEIJING)


def document(folder: Path, sender: str, name: str, subject: str) -> bytes:
    """A mail with one real .docx (its own text: each one a distinct file)."""
    path = make_docx(folder / f"{sender}-{len(list(folder.iterdir()))}.docx",
                     f"{sender} {name} {subject}")
    return samplemail.message(sender, subject, [
        samplemail.text_part("您好，附件请查收。"),
        samplemail.file_part(path.read_bytes(), samplemail.utf8_name(name), DOCX)])


def statuses(config, at: datetime) -> tuple[dict, dict, dict]:  # type: ignore[no-untyped-def]
    """(units by id, groups by id, the report) as ``report --json`` says at ``at``."""
    with open_repository(config) as store:
        report = report_from_repository(store, config, at)
    return ({unit["id"]: unit for unit in report["units"]},
            {group["id"]: group for group in report["groups"]}, report)


def owed(entry: dict, ident: str) -> tuple[object, ...]:
    found = next(item for item in entry["deliverables"] if item["id"] == ident)
    return found["accepted"], found["needed"], found["status"], found["late"]


def test_dehua_campaign_over_imap(tmp_path: Path, dovecot_server: Dovecot, imap_user: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    block = {"host": "127.0.0.1", "port": dovecot_server.port, "security": "none",
             "user": imap_user, "password_env": PASSWORD_ENV}
    config = load_config(write_config(tmp_path, mailbox={"source": {"imap": block}},
                                      campaign=CAMPAIGN, groups=GROUPS, units=UNITS))
    made = tmp_path / "made"
    made.mkdir()

    def deliver(at: datetime, *mails: tuple[str, str, str]) -> None:
        for sender, name, subject in mails:
            dovecot_server.append(imap_user, document(made, sender, name, subject))
        assert poll_once(config, clock=lambda: at.astimezone(UTC)).processed == len(mails)

    # 4 June: 浔中镇's 民政办 sends its 经验做法 from its own address; one institution its
    # summary; another a file that is neither (no match word, and no catch-all document).
    deliver(beijing(4, 10),
            ("xzmzb@dhmz.example.cn", "浔中镇安全管理经验做法.docx", "经验材料报送"),
            ("xzjly@dhmz.example.cn", "2024年活动情况总结.docx", "报送"),
            ("xzxfy@dhmz.example.cn", "通讯录.docx", "报送材料"))
    units, groups, report = statuses(config, beijing(5, 23))
    assert owed(groups["xunzhong"], "experience") == (1, 1, "done", False)
    assert owed(groups["gaide"], "experience") == (0, 1, "open", False)
    assert owed(units["xzjly"], "summary") == (1, 1, "done", False)
    assert owed(units["xzxfy"], "summary") == (0, 1, "open", False)
    assert [item["id"] for item in units["xzjly"]["deliverables"]] == ["summary"]
    assert (units["xzjly"]["group"], units["xzjly"]["complete"]) == ("xunzhong", True)
    assert (units["xzxfy"]["complete"], units["xzxfy"]["missing"]) == (False, ["活动情况总结"])
    assert (groups["xunzhong"]["units"], groups["xunzhong"]["complete_units"]) == (2, 1)
    assert [(item["unit"], item["name"]) for item in report["unassigned"]] == \
        [("浔中镇幸福院", "通讯录.docx")]

    # 6 June: 盖德乡 has sent nothing: its 经验做法 is overdue; the summaries are still open.
    units, groups, _ = statuses(config, beijing(6, 0))
    assert owed(groups["gaide"], "experience") == (0, 1, "overdue", False)
    assert owed(units["gdjly"], "summary") == (0, 1, "open", False)

    # 7 June: one of 盖德乡's institutions sends it, named only in the subject: late.
    deliver(beijing(7, 9), ("gdjly@dhmz.example.cn", "材料.docx", "盖德乡经验做法"))
    units, groups, _ = statuses(config, beijing(7, 12))
    assert owed(groups["gaide"], "experience") == (1, 1, "done", True)
    assert owed(units["gdjly"], "summary") == (0, 1, "open", False)  # not its summary

    # 25 June: the summaries not sent are overdue; 24 June's is on time.
    deliver(beijing(24, 23), ("gdjly@dhmz.example.cn", "活动总结.docx", "报送"))
    units, groups, report = statuses(config, beijing(25, 9))
    assert owed(units["gdjly"], "summary") == (1, 1, "done", False)
    assert owed(units["xzxfy"], "summary") == (0, 1, "overdue", False)
    assert [unit["id"] for unit in report["units"] if unit["complete"]] == ["xzjly", "gdjly"]
    assert (groups["gaide"]["units"], groups["gaide"]["complete_units"]) == (1, 1)
    # The 民政办's own mail is credited to the group, never to a unit or as a stranger.
    assert report["unknown_senders"] == []
    assert all(unit["submissions"] == 1 for unit in report["units"] if unit["id"] != "gdjly")

    # The clerks' workbook: a column per unit deliverable, a sheet per group; the terminal.
    write_clerk_xlsx(report, tmp_path / "units.xlsx", "Asia/Shanghai")
    book = load_workbook(tmp_path / "units.xlsx")
    header, *rows = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    column = header.index("活动情况总结（截止 2024-06-24）")
    assert {row[0]: row[column] for row in rows} == {
        "浔中镇敬老院": "已完成 1/1", "浔中镇幸福院": "已逾期 0/1", "盖德乡敬老院": "已完成 1/1"}
    assert [sheet.title for sheet in book.worksheets[1:]] == ["浔中镇民政办", "盖德乡民政办"]
    gaide = [list(row) for row in book["盖德乡民政办"].iter_rows(values_only=True)]
    assert gaide[1] == ["经验做法", "2024-06-05", "已完成（逾期提交）1/1"]
    assert gaide[-1] == ["盖德乡敬老院", None, "材料齐全"]
    text = format_report(report, "Asia/Shanghai")
    assert "浔中镇幸福院：活动情况总结（截止 2024-06-24）已逾期 0/1" in text
    assert "盖德乡民政办（单位齐全 1/1）：经验做法（截止 2024-06-05）已完成（逾期提交）1/1" in text
