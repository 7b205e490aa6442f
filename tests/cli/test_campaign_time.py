"""Every time the program prints is in ``campaign.timezone`` (Asia/Shanghai here), whatever
the host's ``TZ``: the reply a unit gets (sent through a real aiosmtpd), its Date header,
the poller's log lines, ``report`` and ``user list``."""

from __future__ import annotations

import email
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from email import policy
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.mailservers import SmtpServer, drop, open_store, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

SHANGHAI = ZoneInfo("Asia/Shanghai")


def run(config: Path, host_zone: str, *args: str,
        stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``safetymonth ARGS`` as its own process with the host's time zone ``host_zone``."""
    env = {**os.environ, "TZ": host_zone}
    result = subprocess.run([sys.executable, "-m", "safetymonth", "--config", str(config),
                             *args], env=env, input=stdin, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def shanghai(stored: str) -> str:
    """A stored UTC instant as a clerk in Fujian reads it (zoneinfo, not our code)."""
    return datetime.fromisoformat(stored).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@pytest.mark.slow  # among the heaviest of the fast loop (--durations)
@pytest.mark.parametrize("host_zone", ["UTC", "America/New_York"])
def test_reply_report_logs_and_users_in_campaign_time(tmp_path: Path, smtp_server: SmtpServer,
                                                       mail_media: Media,
                                                       host_zone: str) -> None:
    config = write_config(tmp_path, campaign={"timezone": "Asia/Shanghai"}, mailbox={
        "outbox": {"smtp": {"host": "127.0.0.1", "port": smtp_server.port,
                            "security": "none", "timeout": 5}}})
    drop(tmp_path / "inbox", "1.eml",
         samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<t1@x>"))
    polled = run(config, host_zone, "poll", "--once")
    with open_store(tmp_path) as store:
        [record] = store.messages()
    expected = shanghai(record.received_at)

    [(_sender, _to, data)] = smtp_server.recorder.messages
    reply = email.message_from_bytes(data, policy=policy.default)
    body = reply.get_body(("plain",)).get_content()
    assert re.search(r"于 (\d{4}-\d\d-\d\d \d\d:\d\d) 发来", body).group(1) == expected
    assert parsedate_to_datetime(reply["Date"]).utcoffset() == timedelta(hours=8)

    # The log's stamps are Beijing time too: within minutes of the receipt, not hours off.
    stamps = re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d{3} ", polled.stderr, re.M)
    assert stamps, polled.stderr
    logged = datetime.strptime(stamps[-1], "%Y-%m-%d %H:%M:%S")
    assert abs(logged - datetime.strptime(expected, "%Y-%m-%d %H:%M")) < timedelta(minutes=10)

    report = run(config, host_zone, "report").stdout
    assert expected in report.splitlines()[1]

    run(config, host_zone, "user", "add", "clerk", "--role", "viewer",
        stdin="long-enough-passphrase-7\n")
    listed = run(config, host_zone, "user", "list").stdout.split("\t")
    [user] = json.loads(run(config, host_zone, "user", "list", "--json").stdout)
    assert listed[2].strip() == shanghai(user["created_at"])  # --json keeps UTC
