"""Hostile and machine mail as real senders write it (parser corpora, fuzzing, MTAs' reports),
polled through a real Maildir: shared by the mailbox tests, the IMAP source's and the
reply tests."""

from __future__ import annotations

import base64
from pathlib import Path

from safetymonth.config import load_config
from safetymonth.mailbox.service import poll_once
from tests.support.mailservers import drop, write_config

UNIT_ADDRESS = "fuli@dhmz.example.cn"  # 德化县社会福利中心
PHOTO_NAME = "消防演练现场.jpg"


def poll(tmp_path: Path, messages: dict[str, bytes], **sections: object) -> Path:
    """The messages dropped into a Maildir inbox and polled once; the config's path."""
    config_path = write_config(tmp_path, **sections)
    for name, raw in messages.items():
        drop(tmp_path / "inbox", name, raw)
    poll_once(load_config(config_path))
    return config_path


def report_message(sender: str, report_type: str | None, parts: list[bytes],
                   message_id: str) -> bytes:
    """A machine report as MTAs and clients write it, without ``Return-Path: <>`` (our
    mailbox provider need not add one) and without Auto-Submitted."""
    content_type = f"multipart/report; report-type={report_type}" if report_type \
        else "multipart/mixed"
    head = (f"From: {sender}\r\nTo: aqgly@mzj.example.gov.cn\r\nSubject: 通知\r\n"
            f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: {content_type}; boundary=\"rr\"\r\n\r\n").encode()
    body = b"".join(b"--rr\r\n" + part + b"\r\n" for part in parts)
    return head + body + b"--rr--\r\n"


def human(text: str) -> bytes:
    """A report's human-readable part."""
    return f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n".encode()


def dsn_status(recipient: str, action: str, status: str, diagnostic: str,
               original: str | None = None) -> bytes:
    """A delivery-status part (RFC 3464) for one recipient."""
    per_message = "Reporting-MTA: dns; mx.dhmz.example.cn\r\n"
    if original:
        per_message += f"Original-Message-ID: {original}\r\n"
    return (b"Content-Type: message/delivery-status\r\n\r\n" + per_message.encode() +
            f"\r\nFinal-Recipient: rfc822; {recipient}\r\nAction: {action}\r\n"
            f"Status: {status}\r\nDiagnostic-Code: smtp; {diagnostic}\r\n".encode())


def quoted_headers(message_id: str, content_type: str = "text/rfc822-headers") -> bytes:
    """The headers of one of our replies as a bounce quotes them."""
    return (f"Content-Type: {content_type}\r\n\r\nFrom: aqgly@mzj.example.gov.cn\r\n"
            f"To: {UNIT_ADDRESS}\r\nSubject: Re: x\r\nMessage-ID: {message_id}\r\n").encode()


MACHINE = {
    "dsn.eml": report_message("Mail System <notify@mx.dhmz.example.cn>", "delivery-status",
                              [human("投递失败"), dsn_status("x@other.example", "failed",
                                                           "5.1.1", "550 no such user")],
                              "<dsn@mx>"),
    "mdn.eml": report_message(UNIT_ADDRESS, "disposition-notification", [
        human("已读回执"),
        b"Content-Type: message/disposition-notification\r\n\r\n"
        b"Reporting-UA: Foxmail\r\nFinal-Recipient: rfc822; " + UNIT_ADDRESS.encode() +
        b"\r\nOriginal-Message-ID: <x@y>\r\nDisposition: manual-action/MDN-sent-manually; "
        b"displayed\r\n"], "<mdn@dhmz>"),
    "arf.eml": report_message("abuse <fbl@mail.example.cn>", "feedback-report", [
        human("spam report"),
        b"Content-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
        b"User-Agent: fbl/1.0\r\nVersion: 1\r\n"], "<arf@fbl>"),
    # No report-type: recognised by its status part alone.
    "part-only.eml": report_message(UNIT_ADDRESS, None, [
        human("回执"),
        b"Content-Type: message/disposition-notification\r\n\r\n"
        b"Final-Recipient: rfc822; " + UNIT_ADDRESS.encode() + b"\r\n"
        b"Disposition: automatic-action/MDN-sent-automatically; displayed\r\n"],
        "<part@dhmz>"),
}


def nested_multiparts(depth: int) -> bytes:
    part = b"Content-Type: text/plain\r\n\r\ninnermost text\r\n"
    for level in range(depth):
        boundary = f"n{level}".encode()
        part = (b"Content-Type: multipart/mixed; boundary=" + boundary + b"\r\n\r\n--" +
                boundary + b"\r\n" + part + b"\r\n--" + boundary + b"--\r\n")
    return part


def nested_messages(depth: int) -> bytes:
    part = b"From: x@y.example.cn\r\nSubject: innermost\r\n\r\ninnermost text\r\n"
    for _ in range(depth):
        part = b"Content-Type: message/rfc822\r\n\r\nFrom: x@y.example.cn\r\n" + part
    return part


def with_photo(photo: bytes, *, subject: bytes = b"x", extra_headers: bytes = b"",
               photo_type: bytes = b"image/jpeg", last_part: bytes = b"") -> bytes:
    """A unit's message carrying a real photo, plus whatever hostile part or header."""
    encoded = base64.encodebytes(photo).replace(b"\n", b"\r\n")
    name = base64.b64encode(PHOTO_NAME.encode()).decode().encode()
    return (b"From: " + UNIT_ADDRESS.encode() + b"\r\nSubject: " + subject + b"\r\n" +
            extra_headers + b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"top\"\r\n\r\n--top\r\n"
            b"Content-Type: " + photo_type + b"; name=\"=?utf-8?B?" + name + b"?=\"\r\n"
            b"Content-Disposition: attachment; filename=\"=?utf-8?B?" + name + b"?=\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded +
            (b"--top\r\n" + last_part + b"\r\n" if last_part else b"") + b"--top--\r\n")


HOSTILE = {
    # A NUL inside an RFC 2047 charset name: ValueError, not LookupError.
    "nul-charset-word": lambda photo: with_photo(
        photo, subject=b"=?ut\x00f-8?B?5rS75Yqo?= =?gb\x01k?B?0rs=?="),
    "nul-charset-param": lambda photo: with_photo(
        photo, last_part=b"Content-Type: text/plain; charset=\"utf\x00-8\"\r\n\r\nhello"),
    # Raw 8-bit bytes in the headers and in a Content-Type and its parameters.
    "8bit-everywhere": lambda photo: with_photo(
        photo, subject=b"\xe6\xb4\xbb\xff\xfe", photo_type=b"image/jpeg; x-\xe4\xb8\xad=\xff",
        extra_headers=b"To: \xd6\xd0\xce\xc4 <aqgly@mzj.example.gov.cn>\r\n"
                      b"Date: \xff\r\nMessage-ID: <\xe4\xb8\xad@dhmz>\r\nX-Any: \x80\x81\r\n",
        last_part=b"Content-Type: appl\xe4\xb8\xadication/pdf; name=\"\xff\xfe.pdf\"\r\n\r\n%PDF"),
    "1000-nested-multiparts": lambda photo: with_photo(photo, last_part=nested_multiparts(1000)),
    "1000-nested-messages": lambda photo: with_photo(photo, last_part=nested_messages(1000)),
}
