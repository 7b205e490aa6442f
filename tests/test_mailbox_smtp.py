"""SMTP delivery against a real aiosmtpd: delivery, an outage, recovery with each reply once."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

from safetymonth.config import Config, load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.mailbox.service import poll_once
from safetymonth.store import QUEUED, SENT, Store
from tests.mailservers import SmtpServer, drop, write_config


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
    with Store(config.storage_dir) as store:
        queued = store.replies("state = ?", (QUEUED,))
        assert len(queued) == 3
        assert queued[0]["attempts"] == 2 and "Connection refused" in queued[0]["last_error"]
        assert len(store.messages()) == 4  # intake carried on while SMTP was down

    smtp_server.start()  # recovery, same port
    poll_once(config)
    poll_once(config)
    with Store(config.storage_dir) as store:
        replies = store.replies()
        assert {row["state"] for row in replies} == {SENT}
        ids = {f"<{row['id']}@mzj.example.gov.cn>" for row in replies}
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
    with Store(config.storage_dir) as store:
        [reply] = store.replies()
    assert reply["state"] == "refused" and "550" in reply["last_error"]
    assert smtp_server.recorder.messages == []
