"""Mail from the public parser corpora and fuzzing: From headers, attached messages, machine
reports, bad bytes, deep nesting and huge fields, each through a real Maildir and a real poll.
"""

from __future__ import annotations

import base64
import email
import hashlib
import json
import quopri
import re
from email import policy
from email.headerregistry import HeaderRegistry
from pathlib import Path

import pytest
from click.testing import CliRunner

from safetymonth.cli import main
from safetymonth.config import load_config
from safetymonth.mailbox.samplemail import Media, file_part, message, text_part
from safetymonth.mailbox.service import poll_once
from safetymonth.storage.repository import PROCESSED
from tests.support.hostile_mail import (
    HOSTILE,
    MACHINE,
    PHOTO_NAME,
    UNIT_ADDRESS,
    dsn_status,
    human,
    poll,
    quoted_headers,
    report_message,
)
from tests.support.mailservers import drop, open_store

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

UNIT = "德化县社会福利中心"
# What a reply's To may be: one dot-atom address, nothing else.
ONE_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")


def b64_word(text: str) -> str:
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def replies_by_to(tmp_path: Path) -> dict[str, email.message.EmailMessage]:
    folder = tmp_path / "outbox" / "new"
    parsed = [email.message_from_bytes(path.read_bytes(), policy=policy.default)
              for path in sorted(folder.iterdir())] if folder.exists() else []
    return {str(reply["To"]): reply for reply in parsed}


def report_json(config_path: Path) -> dict:
    result = CliRunner().invoke(main, ["--config", str(config_path), "report", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def report_text(config_path: Path) -> str:
    result = CliRunner().invoke(main, ["--config", str(config_path), "report"])
    assert result.exit_code == 0, result.output
    return result.output


def rows_by_key(tmp_path: Path) -> dict[str, dict]:
    with open_store(tmp_path) as store:
        return {row.source_key.split(":", 1)[1]: vars(row) for row in store.messages()}


# --- 1. addresses ---------------------------------------------------------------------------

@pytest.mark.parametrize("display", ["张三, 办公室", '张"三" 办公室', "王, \"老师\" <x@y.cn>"])
def test_encoded_display_name_with_comma_or_quotes_keeps_the_sender(
        tmp_path: Path, display: str) -> None:
    raw = message(f"{b64_word(display)} <{UNIT_ADDRESS}>", "活动总结", [text_part("见附件")],
                  message_id="<name@dhmz>")
    poll(tmp_path, {"m.eml": raw})
    [row] = rows_by_key(tmp_path).values()
    assert (row["sender"], row["sender_name"], row["unit"]) == (UNIT_ADDRESS, display, UNIT)
    [(to, reply)] = replies_by_to(tmp_path).items()
    assert to == UNIT_ADDRESS
    assert reply.get_body(("plain",)).get_content().startswith(f"{UNIT}：")


@pytest.mark.parametrize(("header", "why"), [
    ("Big Bug bb@bug.com", "Big Bug bb@bug.com"),
    ("a@x b@x", "a@x b@x"),
    ("<fuli@dhmz.example.cn> <byg@dhmz.example.cn>", "byg@dhmz.example.cn"),
    ("undisclosed-recipients:;", "undisclosed-recipients"),
])
def test_a_from_without_one_valid_address_gets_no_reply_and_is_listed(
        tmp_path: Path, header: str, why: str) -> None:
    raw = message(header, "x", [text_part("hi")], message_id="<bad-from@x>")
    config_path = poll(tmp_path, {"m.eml": raw})
    [row] = rows_by_key(tmp_path).values()
    assert row["sender"] is None and row["unit"] is None and row["state"] == PROCESSED
    assert replies_by_to(tmp_path) == {}
    [listed] = report_json(config_path)["not_credited"]
    assert listed["message_id"] == "<bad-from@x>"
    assert listed["reason"].startswith("no usable From address (") and why in listed["reason"]
    assert why in report_text(config_path)


def test_every_reply_goes_to_exactly_one_valid_address(tmp_path: Path) -> None:
    senders = [f"{b64_word('张三, 办公室')} <{UNIT_ADDRESS}>", "Big Bug bb@bug.com",
               "a@x b@x", '"Big Bug" <BB@Bug.example.com>', "x <a@b.example.cn> y@z.cn",
               f"{UNIT_ADDRESS} <{UNIT_ADDRESS}>", "(" * 3000 + UNIT_ADDRESS, "a@",
               "张三 <zhang@example.cn", "\"a b\"@c.example.cn", "<>"]
    poll(tmp_path, {f"m{i}.eml": message(sender, "x", [text_part("hi")])
                    for i, sender in enumerate(senders)})
    assert all(row["state"] == PROCESSED for row in rows_by_key(tmp_path).values())
    replies = replies_by_to(tmp_path)
    assert sorted(replies) == ["bb@bug.example.com", UNIT_ADDRESS]
    registry = HeaderRegistry()
    for to in replies:
        [address] = registry("To", to).addresses
        assert ONE_ADDRESS.fullmatch(to) and address.addr_spec == to


# --- 2. attached messages -------------------------------------------------------------------

INNER = (b"From: =?UTF-8?B?5byg5LiJ?= <zhang@dhmz.example.cn>\r\nTo: boss@dhmz.example.cn\r\n"
         b"Subject: =?UTF-8?B?5rS75Yqo5oC757uT?=\r\nMessage-ID: <inner@dhmz>\r\n"
         b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
         "这是被转发的原始邮件，行尾是 CRLF。\r\n第二行 = 等号与 trailing space \r\n".encode())


def forwarding(encoding: str, body: bytes) -> bytes:
    return (b"From: " + UNIT_ADDRESS.encode() + b"\r\nSubject: fwd\r\nMessage-ID: <fwd-" +
            encoding.encode() + b"@dhmz>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nsee attached\r\n--zz\r\n"
            b"Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n"
            b"Content-Transfer-Encoding: " + encoding.encode() + b"\r\n\r\n" + body +
            b"\r\n--zz--\r\n")


@pytest.mark.parametrize(("encoding", "body"), [
    ("base64", base64.encodebytes(INNER).replace(b"\n", b"\r\n").rstrip()),
    # Hard line breaks stay CRLF; the CRLF before the boundary belongs to the boundary.
    ("quoted-printable", quopri.encodestring(INNER)),
])
def test_an_encoded_attached_message_is_stored_as_the_message_itself(
        tmp_path: Path, encoding: str, body: bytes) -> None:
    assert body != INNER  # really encoded
    poll(tmp_path, {"m.eml": forwarding(encoding, body)})
    with open_store(tmp_path) as store:
        [row] = store.messages()
        [attachment] = store.attachments(row.id)
        stored = store.path(attachment.stored_name).read_bytes()
    assert attachment.content_type == "message/rfc822" and attachment.name == "邮件.eml"
    assert stored == INNER and attachment.sha256 == hashlib.sha256(INNER).hexdigest()
    inner = email.message_from_bytes(stored, policy=policy.default)
    assert inner["Subject"] == "活动总结" and inner["Message-ID"] == "<inner@dhmz>"


# --- 3. machine mail ------------------------------------------------------------------------

def test_dsn_mdn_and_feedback_reports_are_recorded_never_credited_never_answered(
        tmp_path: Path) -> None:
    config_path = poll(tmp_path, MACHINE)
    rows = rows_by_key(tmp_path)
    assert sorted(rows) == sorted(MACHINE)
    for row in rows.values():
        assert row["state"] == PROCESSED and row["unit"] is None
        assert row["no_reply"].startswith("machine report: "), row["source_key"]
    assert rows["mdn.eml"]["no_reply"] == "machine report: read receipt"
    assert rows["arf.eml"]["no_reply"] == "machine report: feedback report"
    assert replies_by_to(tmp_path) == {}
    report = report_json(config_path)
    [unit] = [item for item in report["units"] if item["name"] == UNIT]
    assert unit["submissions"] == 0
    assert {item["message_id"] for item in report["not_credited"]} == \
        {"<dsn@mx>", "<mdn@dhmz>", "<arf@fbl>", "<part@dhmz>"}
    # Nobody's reply bounced: someone else's message did.
    assert report["bounces"] == []


def test_a_bounce_of_our_reply_or_reminder_is_listed_under_the_unit(tmp_path: Path) -> None:
    config_path = poll(tmp_path, {"m.eml": message(UNIT_ADDRESS, "总结", [text_part("见附件")],
                                                   message_id="<sub@dhmz>")},
                       campaign={"deadline": "2999-06-24"})
    [reply] = replies_by_to(tmp_path).values()
    ours = str(reply["Message-ID"])
    assert CliRunner().invoke(main, ["--config", str(config_path), "remind"]).exit_code == 0
    with open_store(tmp_path) as store:
        reminder = next(row for row in store.replies()
                        if row.kind == "reminder" and row.recipient == "byg@dhmz.example.cn")
        reminder_id = reminder.headers["Message-ID"]
    bounces = {
        # Matched by the quoted headers' Message-ID.
        "b1.eml": report_message("Mail System <notify@mx.dhmz.example.cn>", "delivery-status", [
            human("投递失败"), dsn_status(UNIT_ADDRESS, "failed", "5.2.2", "552 mailbox full"),
            quoted_headers(ours)], "<b1@mx>"),
        # Matched by Original-Message-ID; the attached original is a whole message/rfc822.
        "b2.eml": report_message("notify@mx.dhmz.example.cn", "delivery-status", [
            human("退信"), dsn_status("byg@dhmz.example.cn", "failed", "5.1.1",
                                    "550 user unknown", original=reminder_id),
            quoted_headers(reminder_id, "message/rfc822")], "<b2@mx>"),
        # Matched by the Final-Recipient alone: a unit's address, the message not quoted.
        "b4.eml": report_message("notify@mx.dhmz.example.cn", "delivery-status", [
            human("退信"), dsn_status("jiuzhu@dhmz.example.cn", "failed", "5.7.1",
                                    "554 rejected")], "<b4@mx>"),
        # Only delayed: no bounce yet.
        "b3.eml": report_message("notify@mx.dhmz.example.cn", "delivery-status", [
            human("延迟"), dsn_status(UNIT_ADDRESS, "delayed", "4.4.1", "timeout"),
            quoted_headers(ours)], "<b3@mx>"),
    }
    for name, raw in bounces.items():
        drop(tmp_path / "inbox", name, raw)
    poll_once(load_config(config_path))
    report = report_json(config_path)
    assert sorted(report["bounces"], key=lambda item: item["message_id"]) == [
        {"unit": UNIT, "address": UNIT_ADDRESS, "reply_message_id": ours, "status": "5.2.2",
         "diagnostic": "smtp; 552 mailbox full", "message_id": "<b1@mx>"},
        {"unit": "德化县殡仪馆", "address": "byg@dhmz.example.cn",
         "reply_message_id": reminder_id, "status": "5.1.1",
         "diagnostic": "smtp; 550 user unknown", "message_id": "<b2@mx>"},
        {"unit": "德化县救助管理站", "address": "jiuzhu@dhmz.example.cn",
         "reply_message_id": None, "status": "5.7.1", "diagnostic": "smtp; 554 rejected",
         "message_id": "<b4@mx>"},
    ]
    text = report_text(config_path)
    assert f"退信（回复或提醒未送达）：{UNIT} {UNIT_ADDRESS} 5.2.2" in text
    # The bounces are answered by nobody: still the one reply.
    with open_store(tmp_path) as store:
        assert len([row for row in store.replies() if row.kind == "reply"]) == 1


# --- 4. bad bytes and deep nesting ----------------------------------------------------------

@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_bad_bytes_and_deep_nesting_end_recorded_with_a_reply_listing_what_was_read(
        tmp_path: Path, mail_media: Media, case: str) -> None:
    poll(tmp_path, {"m.eml": HOSTILE[case](mail_media.photo)})
    [row] = rows_by_key(tmp_path).values()
    assert (row["state"], row["unit"], row["last_error"]) == (PROCESSED, UNIT, None)
    with open_store(tmp_path) as store:
        attachments = store.attachments(row["id"])
        photo = store.path(attachments[0].stored_name).read_bytes()
    assert attachments[0].name == PHOTO_NAME and photo == mail_media.photo
    [reply] = replies_by_to(tmp_path).values()
    text = reply.get_body(("plain",)).get_content()
    assert f"1. {PHOTO_NAME}：JPEG 照片" in text and "合格" in text
    if case == "1000-nested-multiparts":
        assert "嵌套过深" in text and len(attachments) == 1
    if case == "1000-nested-messages":  # the part we could not open is kept as a message
        assert [a.content_type for a in attachments] == ["image/jpeg", "message/rfc822"]


# --- 5. reply size --------------------------------------------------------------------------

@pytest.mark.slow
def test_replies_stay_small_whatever_the_message_holds(tmp_path: Path) -> None:
    many = [file_part(b"x", f'filename="{"长文件名" * 60}{index}.jpg"'.encode())
            for index in range(10_000)]
    huge = {
        "subject.eml": message(UNIT_ADDRESS, b"A" * 10_000_000, [text_part("hi")]),
        "cjk-subject.eml": message("byg@dhmz.example.cn", "长" * 2_000_000, [text_part("x")]),
        "files.eml": message("jiuzhu@dhmz.example.cn", "很多文件", many),
        "ids.eml": message("xzjly@dhmz.example.cn", "x", [text_part("hi")],
                           message_id="<" + "i" * 5000 + "@dhmz>", extra=[
                               b"References: " + b" ".join(
                                   f"<{n}@x.example.cn>".encode() for n in range(200_000))]),
    }
    assert len(huge["subject.eml"]) > 10_000_000 and len(huge["files.eml"]) > 5_000_000
    config_path = poll(tmp_path, huge)
    rows = rows_by_key(tmp_path)
    assert {row["state"] for row in rows.values()} == {PROCESSED}
    replies = sorted((tmp_path / "outbox" / "new").iterdir())
    assert len(replies) == len(huge)
    for path in replies:
        data = path.read_bytes()
        assert len(data) <= 100_000, (path, len(data))
        assert max(len(line) for line in data.split(b"\n")) <= 998
        reply = email.message_from_bytes(data, policy=policy.default)
        assert len(str(reply["Subject"])) <= len("Re: ") + 200
        text = reply.get_body(("plain",)).get_content()
        if str(reply["To"]) == "jiuzhu@dhmz.example.cn":
            assert "共 10000 个" in text and "未逐一列出" in text
        if str(reply["To"]) == UNIT_ADDRESS:
            assert "A" * 199 in text and "A" * 201 not in text
    assert report_json(config_path)["failed"] == []
