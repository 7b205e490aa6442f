"""The expiry of a cloud attachment read from the phrasings 163 and QQ Mail use."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from safetymonth.mailbox.cloudexpiry import body_text, cloud_expiry

BEIJING = ZoneInfo("Asia/Shanghai")
SENT = datetime(2026, 6, 5, 9, 0, tzinfo=BEIJING)


@pytest.mark.parametrize(("body", "expected"), [
    ("应急演练视频.mp4 (1.2G, 2026年07月05日 10:30到期)", datetime(2026, 7, 5, 10, 30)),
    ("演练.mp4 (1.2G, 2026年7月5日 10:30 到期)", datetime(2026, 7, 5, 10, 30)),
    ("文件中转站 演练.mp4 有效期至2026-07-05", datetime(2026, 7, 5, 23, 59)),
    ("有效期至：2026/07/05 08:15", datetime(2026, 7, 5, 8, 15)),
    ("到期时间：2026年07月05日", datetime(2026, 7, 5, 23, 59)),
    ("演练.mp4（30天后过期）", datetime(2026, 7, 5, 9, 0)),
    ("下载链接有效期：15天", datetime(2026, 6, 20, 9, 0)),
    ("两个文件：a.mp4 2026年07月09日 10:30到期，b.mp4 2026年07月05日 10:30到期",
     datetime(2026, 7, 5, 10, 30)),  # the earliest: after it one file is lost
])
def test_an_expiry_stated_in_the_body_is_read_in_the_campaigns_zone(
        body: str, expected: datetime) -> None:
    found = cloud_expiry(body, SENT, "Asia/Shanghai")
    assert found == expected.replace(tzinfo=BEIJING)
    assert found is not None and found.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize("body", [
    "活动日期 2026年06月03日 10:30，照片见附件",  # a date, but no expiry
    "超大附件 演练.mp4 https://mail.163.com/large-attachment-download/x",
    "2026年13月40日 10:30到期",  # no such day
])
def test_a_body_that_states_no_expiry_gives_none(body: str) -> None:
    assert cloud_expiry(body, SENT, "Asia/Shanghai") is None


def test_163s_html_is_read_without_its_tags() -> None:
    html = ('<a href="https://mail.163.com/large-attachment-download/x">应急演练视频.mp4</a>'
            ' <span>(1.2G, </span><b>2026年07月05日 10:30</b><span>到期)</span>')
    found = cloud_expiry(body_text("", html), SENT, "Asia/Shanghai")
    assert found == datetime(2026, 7, 5, 10, 30, tzinfo=BEIJING)
