"""Every part of machine mail is kept (issue 16): the status parts of a delivery report, a read
receipt or a feedback report, and the message a bounce quotes, are stored as files like any
attachment, besides being read for the report."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from tests.support.hostile_mail import dsn_status, human, poll, report_message
from tests.support.mailservers import open_store

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

ORIGINAL = (b"From: aqgly@mzj.example.gov.cn\r\nTo: byg@dhmz.example.cn\r\n"
            b"Subject: reminder\r\nMessage-ID: <ours@mzj.example.gov.cn>\r\n\r\nbody\r\n")
MDN = (b"Content-Type: message/disposition-notification\r\n\r\n"
       b"Reporting-UA: Foxmail\r\nFinal-Recipient: rfc822; fuli@dhmz.example.cn\r\n"
       b"Original-Message-ID: <x@y>\r\nDisposition: manual-action/MDN-sent-manually; "
       b"displayed\r\n")


def test_status_parts_and_the_quoted_message_are_stored_as_files(tmp_path: Path) -> None:
    poll(tmp_path, {
        "dsn.eml": report_message("Mail System <notify@mx.dhmz.example.cn>", "delivery-status", [
            human("投递失败"),
            dsn_status("byg@dhmz.example.cn", "failed", "5.1.1", "550 no such user"),
            b"Content-Type: message/rfc822\r\n\r\n" + ORIGINAL], "<dsn@mx>"),
        "mdn.eml": report_message("fuli@dhmz.example.cn", "disposition-notification",
                                  [human("已读回执"), MDN], "<mdn@dhmz>")})
    with open_store(tmp_path) as store:
        rows = {row.message_id: row for row in store.messages()}
        files = {message_id: {item.content_type: store.path(item.stored_name).read_bytes()
                              for item in store.attachments(row.id)}
                 for message_id, row in rows.items()}
        names = {item.content_type: item.name for item in store.attachments(rows["<dsn@mx>"].id)}
    status = files["<dsn@mx>"]["message/delivery-status"].decode()
    blocks = [block for block in status.replace("\r\n", "\n").split("\n\n") if block.strip()]
    assert blocks[0].splitlines() == ["Reporting-MTA: dns; mx.dhmz.example.cn"]
    assert blocks[1].splitlines() == ["Final-Recipient: rfc822; byg@dhmz.example.cn",
                                      "Action: failed", "Status: 5.1.1",
                                      "Diagnostic-Code: smtp; 550 no such user"]
    quoted = email.message_from_bytes(files["<dsn@mx>"]["message/rfc822"], policy=policy.default)
    assert quoted["Message-ID"] == "<ours@mzj.example.gov.cn>" and quoted["Subject"] == "reminder"
    assert names == {"message/delivery-status": "投递状态.txt", "message/rfc822": "邮件.eml"}
    receipt = files["<mdn@dhmz>"]["message/disposition-notification"].decode()
    assert "Disposition: manual-action/MDN-sent-manually; displayed" in receipt
    assert "Final-Recipient: rfc822; fuli@dhmz.example.cn" in receipt
