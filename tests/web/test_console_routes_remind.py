"""催报 from the console only queues: a real ``serve`` and a watching ``poll`` (each its own
process) with aiosmtpd as the outbox. The reminders the clerk confirms arrive at aiosmtpd,
sent by the watcher within seconds although no mail comes in (its poll interval is an hour),
and the request itself opens no SMTP connection: with SMTP down during the request, the page
still says they are queued and they go once SMTP is back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from safetymonth.mailbox.samplemail import Media
from tests.support.console import Console, csrf_of, fill_store, serve, stop
from tests.support.mailservers import SmtpServer, open_store, write_config
from tests.support.pollers import poller
from tests.support.watching import wait_for

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

HOUR = 3600  # the watcher's poll interval: only its look at the outbox can send in time
QUEUED = "已排队，由收信服务发出"
# fill_store leaves four units incomplete (only 社会福利中心 sent everything); each is reminded
# at its registered address, 儿童福利院 (registered by domain only) at the sender of its zip.
CHASED = {"xzjly@dhmz.example.cn", "wang@etfly.example.cn", "jiuzhu@dhmz.example.cn",
          "byg@dhmz.example.cn"}


@dataclass
class Watched:
    console: Console
    folder: Path
    smtp: SmtpServer


@pytest.fixture
def watched(tmp_path: Path, mail_media: Media, smtp_server: SmtpServer) -> Iterator[Watched]:
    """The filled store's console, and ``poll`` watching it, sending through aiosmtpd."""
    fill_store(tmp_path, mail_media)
    config_path = write_config(tmp_path, mailbox={"poll_interval": HOUR, "outbox": {"smtp": {
        "host": "127.0.0.1", "port": smtp_server.port, "security": "none", "retries": 1,
        "backoff": 0.05, "timeout": 5}}})
    log = tmp_path / "poll.log"
    with log.open("wb") as stderr:
        watcher = poller(config_path, stderr=stderr.fileno(), once=False)
    try:
        wait_for(lambda: "watching " in log.read_text(errors="replace"), 60)
        for console in serve(config_path):
            yield Watched(console, tmp_path, smtp_server)
    finally:
        stop(watcher, 20)


def _remind(console: Console) -> str:
    """Confirm 催报 as the clerk; the page that answers."""
    clerk = console.logged_in("clerk")
    preview = clerk.get("/remind").text
    response = clerk.post("/remind", data={"csrf": csrf_of(preview)})
    assert response.status_code == 200, response.text
    return response.text


def _reminders(smtp: SmtpServer) -> list[tuple[str, str]]:
    """(recipient, subject) of each reminder aiosmtpd accepted."""
    found = []
    with smtp.recorder.lock:
        delivered = list(smtp.recorder.messages)
    for _, recipients, data in delivered:
        subject = str(make_header(decode_header(
            message_from_bytes(data, policy=policy.compat32)["Subject"])))
        if subject.startswith("【提醒】"):
            found += [(recipient, subject) for recipient in recipients]
    return found


def _cells(page: str) -> dict[str, str]:
    """The result column of 催报's table, by recipient."""
    rows = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td><td>[^<]*</td>\s*<td>([^<]*)</td>",
                      page)
    return {recipient: result.strip() for recipient, result in rows}


@pytest.mark.slow
def test_reminders_queued_in_the_console_are_sent_by_the_watcher(watched: Watched) -> None:
    page = _remind(watched.console)
    assert "已发送" not in page
    cells = _cells(page)
    assert {cells[address] for address in CHASED} == {QUEUED}
    assert wait_for(lambda: {to for to, _ in _reminders(watched.smtp)} >= CHASED, 90)
    reminded = [to for to, _ in _reminders(watched.smtp) if to in CHASED]
    assert sorted(reminded) == sorted(CHASED)  # each once


@pytest.mark.slow
def test_the_request_opens_no_smtp_connection(watched: Watched) -> None:
    watched.smtp.stop()  # nothing listens on the outbox's port during the request
    page = _remind(watched.console)
    assert QUEUED in page and "已发送" not in page
    with open_store(watched.folder) as store:
        queued = {reply.recipient for reply in store.replies()
                  if reply.kind == "reminder" and reply.sent_at is None}
    assert queued >= CHASED
    assert watched.smtp.recorder.messages == []
    watched.smtp.start()  # back, on the same port
    assert wait_for(lambda: {to for to, _ in _reminders(watched.smtp)} >= CHASED, 120)
    reminded = [to for to, _ in _reminders(watched.smtp) if to in CHASED]
    assert sorted(reminded) == sorted(CHASED)
