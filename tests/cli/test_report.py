"""``report --json`` per the DESIGN.md contract, from a store filled by real intake."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from safetymonth.cli import main
from safetymonth.config import Completion, Unit
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.report import missing, unit_progress
from safetymonth.storage.credit import RegistryUnit
from safetymonth.storage.repository import NewAttachment, Outcome, Received, Repository
from tests.support.mailservers import drop, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

UNIT_KEYS = {"name", "submissions", "documents_ok", "photos_ok", "photos_failed", "videos_ok",
             "videos_failed", "complete", "last_submission"}


def _report(config_path: Path, *extra: str) -> dict:
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(config_path), "poll", "--once"]).exit_code == 0
    result = runner.invoke(main, ["--config", str(config_path), "report", "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_report_json_contract(tmp_path: Path, mail_media: Media) -> None:
    config_path = write_config(tmp_path)
    inbox = tmp_path / "inbox"
    complete = samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<c@x>")
    drop(inbox, "1.eml", complete)
    drop(inbox, "1-again.eml", complete)  # a duplicate delivery
    drop(inbox, "2.eml", samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media))
    drop(inbox, "3.eml", samplemail.foxmail_gbk("wang@etfly.example.cn", mail_media))
    drop(inbox, "4.eml", samplemail.complete_submission("stranger@qq.example.com", mail_media))
    drop(inbox, "5.eml", samplemail.complete_submission("stranger@qq.example.com", mail_media))
    spoofed = samplemail.message(
        "byg@dhmz.example.cn", "x", [samplemail.text_part("x")], message_id="<spoof@x>",
        extra=[b"Authentication-Results: mx.example.cn; dkim=fail; spf=fail"])
    drop(inbox, "6.eml", spoofed)

    report = _report(config_path, "--csv", str(tmp_path / "units.csv"))
    assert {"units", "unknown_senders", "suspicious"} <= set(report)
    units = {unit["name"]: unit for unit in report["units"]}
    assert len(units) == 5
    for unit in units.values():
        assert set(unit) >= UNIT_KEYS

    full = units["德化县社会福利中心"]
    assert (full["submissions"], full["documents_ok"], full["photos_ok"], full["videos_ok"],
            full["complete"]) == (1, 1, 1, 1, True)
    assert full["last_submission"]
    failing = units["德化县浔中镇敬老院"]
    assert (failing["photos_ok"], failing["photos_failed"], failing["complete"]) == (0, 1, False)
    gbk = units["德化县儿童福利院"]
    assert (gbk["photos_ok"], gbk["documents_ok"], gbk["videos_ok"]) == (2, 1, 0)
    assert not gbk["complete"]
    for silent in ("德化县救助管理站", "德化县殡仪馆"):
        assert units[silent]["submissions"] == 0 and units[silent]["last_submission"] is None
    assert report["unknown_senders"] == [{"address": "stranger@qq.example.com", "messages": 2}]
    assert report["suspicious"] == [{"sender": "byg@dhmz.example.cn",
                                     "message_id": "<spoof@x>",
                                     "reason": "authentication failed: dkim=fail spf=fail"}]

    with (tmp_path / "units.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["单位"] for row in rows] == list(units)
    assert (rows[0]["材料齐全"], rows[0]["缺少"]) == ("是", "")
    assert (rows[1]["照片不合格"], rows[1]["材料齐全"], rows[1]["缺少"]) == \
        ("1", "否", "活动总结、视频、照片")

    text = CliRunner().invoke(main, ["--config", str(config_path), "report"]).output
    assert "未登记的发件人：stranger@qq.example.com" in text and "可疑邮件" in text


def test_completion_rule_is_configurable(tmp_path: Path, mail_media: Media) -> None:
    config_path = write_config(tmp_path, campaign={"completion": {"documents": 1, "photos": 2,
                                                                  "videos": 0}})
    drop(tmp_path / "inbox", "1.eml", samplemail.foxmail_gbk("w@etfly.example.cn", mail_media))
    units = {u["name"]: u for u in _report(config_path)["units"]}
    assert units["德化县儿童福利院"]["complete"] is True


def test_empty_store_lists_every_unit_with_zero(tmp_path: Path) -> None:
    report = _report(write_config(tmp_path))
    assert [u["submissions"] for u in report["units"]] == [0] * 5
    assert report["unknown_senders"] == [] and report["suspicious"] == []


def test_missing_agrees_with_the_full_tally(tmp_path: Path, engine: str | None) -> None:
    def verdict(kind: str, ok: bool) -> dict[str, object]:
        return {"path": f"{kind}.x", "kind": kind, "ok": ok}

    unit = Unit(name="U", emails=["u@x.cn"])
    with Repository(tmp_path / "storage", engine) as store:
        store.sync_registry([RegistryUnit(unit.key, unit.name, tuple(unit.emails))])
        message = store.record_received(
            "k1", Received("a" * 64, 1, None, "u@x.cn", None, "", None)).message
        with store.transaction():
            store.record_verdicts(message, [
                NewAttachment(position, "n", "files/x", "b" * 64, 1, "x", [verdict(kind, ok)])
                for position, (kind, ok) in enumerate([("photo", True), ("photo", True),
                                                       ("video", False), ("document", True)])])
            store.record_outcome(message, Outcome("processed", "U", None, None, None, None, {}))
        for needed in ({}, {"photos": 2}, {"photos": 3, "videos": 0}, {"documents": 2}):
            completion = Completion(**needed)
            assert missing(store, "U", completion) == \
                unit_progress(store, unit, completion).missing


def test_clerks_spreadsheet_has_chinese_headers_and_local_times(
        tmp_path: Path, mail_media: Media) -> None:
    config_path = write_config(tmp_path, campaign={"timezone": "Asia/Urumqi"})  # UTC+6
    drop(tmp_path / "inbox", "1.eml",
         samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media))
    report = _report(config_path, "--xlsx", str(tmp_path / "units.xlsx"))
    sheet = load_workbook(tmp_path / "units.xlsx").active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert header[:3] == ["单位", "单位编号", "提交邮件"] and "缺少" in header
    assert {"总结不合格", "照片合格", "照片不合格", "视频合格", "视频不合格", "人工决定",
            "未回复邮件", "待发回复"} <= set(header)
    row = dict(zip(header, rows[1], strict=True))
    assert (row["单位"], row["照片不合格"], row["材料齐全"]) == ("德化县浔中镇敬老院", 1, "否")
    utc = datetime.fromisoformat(report["units"][1]["last_submission"])
    # An Excel date on Urumqi's clock (the cell holds no zone), formatted as a date, so a
    # clerk can sort and filter by it.
    assert row["最后提交时间"] == (utc + timedelta(hours=6)).replace(tzinfo=None)
    cell = sheet.cell(row=3, column=header.index("最后提交时间") + 1)
    assert cell.is_date and cell.number_format == "yyyy-mm-dd hh:mm"
    text = CliRunner().invoke(main, ["--config", str(config_path), "report"]).output
    assert f"{utc + timedelta(hours=6):%Y-%m-%d %H:%M}" in text


@pytest.mark.parametrize("option", ["--xlsx", "--csv"])
def test_report_into_a_file_prints_one_line_naming_it(tmp_path: Path, mail_media: Media,
                                                      option: str) -> None:
    config_path = write_config(tmp_path)
    drop(tmp_path / "inbox", "1.eml",
         samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media))
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(config_path), "poll", "--once"]).exit_code == 0
    target = tmp_path / f"units{option.replace('--', '.')}"
    result = runner.invoke(main, ["--config", str(config_path), "report", option, str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"统计表已写入 {target}\n"  # not the table again
    assert target.stat().st_size > 0

