"""Replies and reminders to a registered unit carry its upload link (the one ``links``
prints); a stranger's reply carries none; a mail holding a 超大附件 link is told to send the
file through the upload link. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from safetymonth.config import load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.mailbox.service import poll_once
from tests.support.cli_runs import as_json, html_of, run, sent, sent_by_recipient, text_of
from tests.support.mailservers import drop, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")

FULI, FULI_ADDRESS = "德化县社会福利中心", "fuli@dhmz.example.cn"
PUBLIC = "https://aqgly.mzj.example.gov.cn"
UNITS = [{"name": FULI, "id": "FL01", "emails": [FULI_ADDRESS]}]


def _config(tmp_path: Path) -> Path:
    return write_config(tmp_path, units=UNITS, web={"public_url": PUBLIC},
                        campaign={"deadline": "2999-06-24"})


def test_a_units_reply_and_reminder_carry_the_link_links_prints(tmp_path: Path,
                                                                mail_media: Media) -> None:
    config = _config(tmp_path)
    drop(tmp_path / "inbox", "1.eml", samplemail.failing_photo(FULI_ADDRESS, mail_media))
    drop(tmp_path / "inbox", "2.eml",
         samplemail.failing_photo("someone@elsewhere.example", mail_media))
    run(config, "poll", "--once")
    run(config, "remind")
    [link] = as_json(config, "links")  # the one live link, issued by the first reply
    assert link["unit"] == FULI and link["url"].startswith(f"{PUBLIC}/u/")
    by_recipient = sent_by_recipient(tmp_path)
    reply, reminder = by_recipient[FULI_ADDRESS]
    assert link["url"] in reply and "上传链接" in reply
    assert link["url"] in reminder and "上传链接" in reminder
    [stranger] = by_recipient["someone@elsewhere.example"]
    assert "/u/" not in stranger and "上传链接" not in stranger


def test_a_cloud_attachment_is_answered_with_the_upload_link(tmp_path: Path) -> None:
    config = _config(tmp_path)
    drop(tmp_path / "inbox", "1.eml", samplemail.cloud_attachment(FULI_ADDRESS))
    run(config, "poll", "--once")
    [link] = as_json(config, "links")
    [reply] = sent(tmp_path)
    text = text_of(reply)
    assert "应急演练视频.mp4" in text
    assert f"请通过本单位的专用上传链接提交这些文件（不受邮件大小限制）：\n{link['url']}" in text
    assert link["url"] in html_of(reply)


class _Clock:
    """The repository's clock, moved by hand: the digest's window ends without sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def test_a_units_digest_carries_its_link(tmp_path: Path, mail_media: Media) -> None:
    path = write_config(tmp_path, units=UNITS, web={"public_url": PUBLIC},
                        campaign={"deadline": "2999-06-24"},
                        mailbox={"reply_rate_limit": {"count": 1, "hours": 1}})
    for number in range(2):
        drop(tmp_path / "inbox", f"{number}.eml",
             samplemail.failing_photo(FULI_ADDRESS, mail_media))
    config, clock = load_config(path), _Clock()
    poll_once(config, clock=clock)  # one reply; the other message is held for the digest
    clock.now += timedelta(hours=1)
    poll_once(config, clock=clock)
    [link] = as_json(path, "links")
    [digest] = [item for item in sent(tmp_path) if "汇总回复" in str(
        make_header(decode_header(item["Subject"])))]
    assert link["url"] in text_of(digest) and link["url"] in html_of(digest)


def test_with_deliverables_the_units_reply_and_overdue_reminder_carry_the_link_a_groups_not(
        tmp_path: Path, mail_media: Media) -> None:
    """Per-deliverable replies and reminders carry the unit's link too; a group's own address
    (answered as the group) gets none: links are the units'."""
    group = {"id": "xunzhong", "name": "浔中镇民政办", "emails": ["xzmzb@dhmz.example.cn"]}
    config = write_config(
        tmp_path, units=[{**UNITS[0], "group": "xunzhong"}], groups=[group],
        web={"public_url": PUBLIC},
        campaign={"deadline": "2999-06-24", "deliverables": [
            {"id": "experience", "name": "经验做法", "kind": "document", "owed_by": "group",
             "deadline": "2020-06-05", "match": ["经验"]},
            {"id": "photos", "name": "活动照片", "kind": "photo", "deadline": "2020-06-05"}]})
    drop(tmp_path / "inbox", "1.eml", samplemail.failing_photo(FULI_ADDRESS, mail_media))
    drop(tmp_path / "inbox", "2.eml",
         samplemail.failing_photo("xzmzb@dhmz.example.cn", mail_media))
    run(config, "poll", "--once")
    run(config, "remind")
    [link] = as_json(config, "links")
    by_recipient = sent_by_recipient(tmp_path)
    reply, reminder = by_recipient[FULI_ADDRESS]
    assert link["url"] in reply and "活动照片" in reply
    assert link["url"] in reminder and "已逾期" in reminder
    assert all("/u/" not in text for text in by_recipient["xzmzb@dhmz.example.cn"])
