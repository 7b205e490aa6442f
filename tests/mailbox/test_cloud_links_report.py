"""``report --json`` ``cloud_links``: each credited mail's 超大附件/中转站 link with its expiry
read from the body in the campaign's zone, soonest first, until the unit sends a file after it
or a coordinator dismisses the mail. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media, message, text_part
from tests.support.cli_runs import as_json, run
from tests.support.mailservers import drop, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")

FULI, FULI_ADDRESS = "德化县社会福利中心", "fuli@dhmz.example.cn"
BYG, BYG_ADDRESS = "德化县殡仪馆", "byg@dhmz.example.cn"
UNITS = [{"name": FULI, "id": "FL01", "emails": [FULI_ADDRESS]},
         {"name": BYG, "emails": [BYG_ADDRESS]}]
URL_163 = "https://mail.163.com/large-attachment-download/index.html?p=X1&file=abc"
URL_QQ = "https://wx.mail.qq.com/ftn/download?func=3&k=qq1"
# Urumqi (UTC+6), not Beijing: the body's "10:30" is read in the campaign's zone.
ZONE = "Asia/Urumqi"
SENT = datetime(2026, 6, 5, 9, 0, tzinfo=ZoneInfo(ZONE))


def _mail_163(sender: str) -> bytes:
    html = (f'<b>从网易163邮箱发来的超大附件</b><br><a href="{URL_163.replace("&", "&amp;")}">'
            '应急演练视频.mp4</a> (1.2G, 2026年07月05日 10:30到期)')
    return message(sender, "安全月视频（超大附件）", [text_part(html, subtype="html")])


def _mail_qq(sender: str) -> bytes:
    text = f"超大附件\n演练.mp4（30天后过期）\n{URL_QQ}\n"
    return message(sender, "演练视频", [text_part(text)], date=SENT)


def _config(tmp_path: Path) -> Path:
    return write_config(tmp_path, units=UNITS,
                        campaign={"deadline": "2999-06-24", "timezone": ZONE})


def _poll(config: Path, tmp_path: Path, name: str, data: bytes) -> None:
    drop(tmp_path / "inbox", name, data)
    run(config, "poll", "--once")


def test_cloud_links_are_listed_with_their_expiry_soonest_first(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _poll(config, tmp_path, "1.eml", _mail_163(FULI_ADDRESS))
    _poll(config, tmp_path, "2.eml", _mail_qq(BYG_ADDRESS))
    _poll(config, tmp_path, "3.eml", _mail_qq("someone@elsewhere.example"))  # no unit's
    listed = as_json(config, "report")["cloud_links"]
    in_30_days = (SENT + timedelta(days=30)).isoformat()
    assert [(item["unit"], item["url"], item["expires"]) for item in listed] == [
        (BYG, URL_QQ, in_30_days), (FULI, URL_163, "2026-07-05T10:30:00+06:00")]
    assert in_30_days == "2026-07-05T09:00:00+06:00"  # so the QQ link comes first
    ids = {item["id"]: item["sender"] for item in as_json(config, "messages")}
    assert [ids[item["message"]] for item in listed] == [BYG_ADDRESS, FULI_ADDRESS]


def test_a_dismissed_mail_leaves_the_list_and_undo_brings_it_back(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _poll(config, tmp_path, "1.eml", _mail_163(FULI_ADDRESS))
    [item] = as_json(config, "report")["cloud_links"]
    run(config, "dismiss", str(item["message"]), "--reason", "已从网盘下载并另行登记")
    assert as_json(config, "report")["cloud_links"] == []
    [unit] = [unit for unit in as_json(config, "report")["units"] if unit["name"] == FULI]
    assert unit["submissions"] == 1  # still credited: only the link was put aside
    [decision] = as_json(config, "history")
    run(config, "undo", str(decision["id"]))
    assert [entry["url"] for entry in as_json(config, "report")["cloud_links"]] == [URL_163]


def test_a_file_from_the_unit_after_the_mail_takes_the_link_off(tmp_path: Path,
                                                                mail_media: Media) -> None:
    config = _config(tmp_path)
    _poll(config, tmp_path, "1.eml", samplemail.failing_photo(FULI_ADDRESS, mail_media))
    _poll(config, tmp_path, "2.eml", _mail_163(FULI_ADDRESS))
    _poll(config, tmp_path, "3.eml", _mail_qq(BYG_ADDRESS))
    assert len(as_json(config, "report")["cloud_links"]) == 2  # the photo came before
    _poll(config, tmp_path, "4.eml", samplemail.failing_photo(FULI_ADDRESS, mail_media))
    assert [item["unit"] for item in as_json(config, "report")["cloud_links"]] == [BYG]
