"""SMTP delivery against a real aiosmtpd: delivery, an outage, recovery with each reply once;
refusals of a recipient (for now or for good), of our sender and of our login."""

from __future__ import annotations

import email
import logging
from email import policy
from pathlib import Path

import pytest

from safetymonth.config import Config, load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.mailbox.service import poll_once, send_queued
from safetymonth.storage.repository import (
    QUEUED,
    REFUSED,
    SENT,
    ReplyRecord,
    open_repository,
)
from tests.support.mailservers import SmtpServer, drop, refusing_logins, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL


def smtp_config(tmp_path: Path, server: SmtpServer) -> Config:
    return load_config(write_config(tmp_path, mailbox={"outbox": {"smtp": {
        "host": "127.0.0.1", "port": server.port, "security": "none", "retries": 2,
        "backoff": 0.05, "timeout": 5}}}))


def test_delivery_outage_and_recovery_exactly_once(tmp_path: Path, smtp_server: SmtpServer,
                                                   mail_media: Media) -> None:
    config = smtp_config(tmp_path, smtp_server)
    drop(tmp_path / "inbox", "1.eml",
         samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<s1@x>"))
    poll_once(config)
    [(sender, recipients, data)] = smtp_server.recorder.messages
    assert sender == "aqgly@mzj.example.gov.cn" and recipients == ["fuli@dhmz.example.cn"]
    reply = email.message_from_bytes(data, policy=policy.default)
    assert reply["In-Reply-To"] == "<s1@x>" and reply["Auto-Submitted"] == "auto-replied"
    assert b"\r\n" in data and b"\r\r" not in data

    smtp_server.stop()  # the outage
    for index in range(2, 5):
        drop(tmp_path / "inbox", f"{index}.eml", samplemail.failing_photo(
            "xzjly@dhmz.example.cn", mail_media, f"<s{index}@x>"))
    poll_once(config)
    poll_once(config)
    with open_repository(config) as store:
        queued = [r for r in store.replies() if r.state == QUEUED]
        assert len(queued) == 3
        assert queued[0].attempts == 2 and "Connection refused" in queued[0].last_error
        assert len(store.messages()) == 4  # intake carried on while SMTP was down

    smtp_server.start()  # recovery, same port
    poll_once(config)
    poll_once(config)
    with open_repository(config) as store:
        replies = store.replies()
        assert {row.state for row in replies} == {SENT}
        ids = {f"<{row.id}@mzj.example.gov.cn>" for row in replies}
    delivered = [email.message_from_bytes(data, policy=policy.default)["Message-ID"]
                 for _, _, data in smtp_server.recorder.messages]
    assert len(delivered) == 4 and set(delivered) == ids  # each reply exactly once


def test_refused_recipient_is_not_retried_forever(tmp_path: Path, smtp_server: SmtpServer,
                                                  mail_media: Media) -> None:
    async def refuse(server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        return "550 no such user"

    smtp_server.recorder.handle_RCPT = refuse  # type: ignore[attr-defined]
    smtp_server.stop()
    smtp_server.start()
    config = smtp_config(tmp_path, smtp_server)
    drop(tmp_path / "inbox", "1.eml",
         samplemail.complete_submission("fuli@dhmz.example.cn", mail_media))
    poll_once(config)
    with open_repository(config) as store:
        [reply] = store.replies()
    assert reply.state == "refused" and "550" in reply.last_error
    assert smtp_server.recorder.messages == []


# --- refusals: whose fault is it? ------------------------------------------------------------
# A 4xx for a recipient is temporary (greylisting): that reply waits for the next run. A 5xx for
# a recipient or for the DATA is that reply's problem: it is refused. A refused sender or login
# is our account's problem: nothing is refused, the run stops and says what to check.

SENDER = "aqgly@mzj.example.gov.cn"  # mailbox.address of the default config


def queue_replies(config: Config, *recipients: str) -> list[str]:
    """Queue one small reply per recipient, in this order; returns their ids."""
    ids = [f"r{index:03d}" for index in range(len(recipients))]
    with open_repository(config) as store, store.transaction():
        for reply_id, recipient in zip(ids, recipients, strict=True):
            data = (f"From: {SENDER}\r\nTo: {recipient}\r\nSubject: test\r\n"
                    f"Message-ID: <{reply_id}@mzj.example.gov.cn>\r\n\r\nhello\r\n").encode()
            store.queue_reply(reply_id, None, "reply", None, recipient, {}, data)
    return ids


def deliver_queued(config: Config) -> tuple[int, int]:
    with open_repository(config) as store:
        run = send_queued(config, store)
    return run.sent, run.left


def replies_by_id(config: Config) -> dict[str, ReplyRecord]:
    with open_repository(config) as store:
        return {row.id: row for row in store.replies()}


def delivered_ids(server_messages: list[tuple[str, list[str], bytes]]) -> list[str]:
    return [email.message_from_bytes(data, policy=policy.default)["Message-ID"]
            .strip("<>").split("@")[0] for _, _, data in server_messages]


def test_greylisted_recipient_stays_queued_and_goes_on_the_next_run(
        tmp_path: Path, smtp_server: SmtpServer) -> None:
    greylisted: set[str] = set()

    async def greylist(server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address.startswith("grey@") and address not in greylisted:
            greylisted.add(address)
            return "450 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_server.recorder.handle_RCPT = greylist  # type: ignore[attr-defined]
    config = smtp_config(tmp_path, smtp_server)
    grey, other = queue_replies(config, "grey@dhmz.example.cn", "fuli@dhmz.example.cn")

    assert deliver_queued(config) == (1, 1)  # the deferral did not stop the run
    rows = replies_by_id(config)
    assert rows[grey].state == QUEUED and rows[grey].attempts == 1
    assert "450" in rows[grey].last_error and "Greylisted" in rows[grey].last_error
    assert rows[other].state == SENT
    assert delivered_ids(smtp_server.recorder.messages) == [other]

    assert deliver_queued(config) == (1, 0)  # the server accepts it now
    rows = replies_by_id(config)
    assert rows[grey].state == SENT and rows[grey].last_error is None
    assert sorted(delivered_ids(smtp_server.recorder.messages)) == sorted([grey, other])


def test_a_recipient_refused_for_good_does_not_hold_back_the_others(
        tmp_path: Path, smtp_server: SmtpServer) -> None:
    async def unknown_user(server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address.startswith("nobody@"):
            return "550 5.1.1 User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_server.recorder.handle_RCPT = unknown_user  # type: ignore[attr-defined]
    config = smtp_config(tmp_path, smtp_server)
    ids = queue_replies(config, "fuli@dhmz.example.cn", "nobody@dhmz.example.cn",
                        "xzjly@dhmz.example.cn")

    assert deliver_queued(config) == (2, 0)
    rows = replies_by_id(config)
    assert rows[ids[1]].state == REFUSED and "550" in rows[ids[1]].last_error
    assert rows[ids[0]].state == rows[ids[2]].state == SENT
    assert delivered_ids(smtp_server.recorder.messages) == [ids[0], ids[2]]
    assert deliver_queued(config) == (0, 0)  # a refused reply is not tried again


def test_a_refused_sender_stops_the_run_and_refuses_no_reply(
        tmp_path: Path, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    senders: list[str] = []

    async def must_be_the_login(server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        senders.append(address)
        return "553 Mail from must equal authorized user"

    smtp_server.recorder.handle_MAIL = must_be_the_login  # type: ignore[attr-defined]
    config = smtp_config(tmp_path, smtp_server)
    ids = queue_replies(config, "fuli@dhmz.example.cn", "xzjly@dhmz.example.cn",
                        "a@etfly.example.cn")

    with caplog.at_level(logging.INFO):
        assert deliver_queued(config) == (0, 3)
    assert senders == [SENDER]  # the run stopped at the first refusal
    rows = replies_by_id(config)
    assert {row.state for row in rows.values()} == {QUEUED}
    assert "553" in rows[ids[0]].last_error
    assert [(rows[i].attempts, rows[i].last_error) for i in ids[1:]] == [(0, None)] * 2
    [line] = [record.getMessage() for record in caplog.records
              if record.levelno >= logging.ERROR]
    assert "553 Mail from must equal authorized user" in line
    assert "mailbox.address" in line and SENDER in line and "stopped" in line
    assert "3 replies stay queued" in line
    assert smtp_server.recorder.messages == []

    del smtp_server.recorder.handle_MAIL  # the configuration was fixed
    assert deliver_queued(config) == (3, 0)
    assert {row.state for row in replies_by_id(config).values()} == {SENT}
    assert sorted(delivered_ids(smtp_server.recorder.messages)) == ids  # each exactly once


def test_a_failed_login_stops_the_run_without_retrying_or_logging_the_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    logins: list[tuple[object, str]] = []  # (the client's address, the user)
    with refusing_logins(logins) as server:
        monkeypatch.setenv("SAFETYMONTH_TEST_SMTP_PASSWORD", "not-the-auth-code-42")
        config = load_config(write_config(tmp_path, mailbox={"outbox": {"smtp": {
            "host": "127.0.0.1", "port": server.port, "security": "none", "retries": 3,
            "backoff": 0.05, "timeout": 5, "user": "whmzjaqgly@163.example.com",
            "password_env": "SAFETYMONTH_TEST_SMTP_PASSWORD"}}}))
        queue_replies(config, "fuli@dhmz.example.cn", "xzjly@dhmz.example.cn")
        with caplog.at_level(logging.DEBUG):
            assert deliver_queued(config) == (0, 2)
    # One connection (smtplib tries PLAIN, then LOGIN, on it): a refused login is not retried.
    assert len({peer for peer, _ in logins}) == 1
    assert {user for _, user in logins} == {"whmzjaqgly@163.example.com"}
    assert {row.state for row in replies_by_id(config).values()} == {QUEUED}
    [line] = [record.getMessage() for record in caplog.records
              if record.levelno >= logging.ERROR]
    assert "535" in line and "whmzjaqgly@163.example.com" in line
    assert "SAFETYMONTH_TEST_SMTP_PASSWORD" in line and "mailbox.address" in line
    assert "not-the-auth-code-42" not in caplog.text


def test_remind_and_poll_once_exit_3_while_replies_stay_queued(
        tmp_path: Path, smtp_server: SmtpServer, mail_media: Media) -> None:
    from click.testing import CliRunner

    from safetymonth.cli import main

    config = smtp_config(tmp_path, smtp_server)
    config_path = tmp_path / "config.yaml"
    smtp_server.stop()
    drop(tmp_path / "inbox", "1.eml",
         samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<r1@x>"))
    runner = CliRunner()
    polled = runner.invoke(main, ["--config", str(config_path), "poll", "--once"])
    assert polled.exit_code == 3, polled.output
    reminded = runner.invoke(main, ["--config", str(config_path), "remind", "--overdue"])
    assert reminded.exit_code == 3, reminded.output
    assert "replies stay queued because the outbox failed" in reminded.stderr
    smtp_server.start()
    assert runner.invoke(main, ["--config", str(config_path), "remind"]).exit_code == 0
    rows = replies_by_id(config)  # the reply and the reminders, all sent once now
    assert {row.kind for row in rows.values()} == {"reply", "reminder"}
    assert {row.state for row in rows.values()} == {SENT}
    assert sorted(delivered_ids(smtp_server.recorder.messages)) == sorted(rows)
