"""Real-world encodings, cloud attachments, hostile filenames and broken MIME."""

from __future__ import annotations

import base64
import email
import io
import logging
from email import policy
from pathlib import Path

import pytest

from safetymonth.config import load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.attachments import safe_name
from safetymonth.mailbox.charsets import decode_text
from safetymonth.mailbox.parse import parse
from safetymonth.mailbox.samplemail import (
    Media,
    file_part,
    message,
    raw_gbk_name,
    rfc2047_name,
    rfc2231_continued,
    text_part,
)
from safetymonth.mailbox.service import poll_once
from safetymonth.storage.repository import PROCESSED, open_repository
from safetymonth.uploads.links import KEY_FILE
from tests.support.mailservers import drop, files_under, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

# 镕 and 堃 are in GB18030/GBK but not in GB 2312: mail labelled gb2312 carries them anyway.
OUTSIDE_GB2312 = "镕溪镇敬老院 王小堃"


def test_gb2312_label_is_decoded_as_gb18030() -> None:
    data = OUTSIDE_GB2312.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("gb2312")
    assert decode_text(data, "gb2312") == OUTSIDE_GB2312
    assert decode_text(data, "x-unknown-charset") == OUTSIDE_GB2312


def test_foxmail_gbk_message(mail_media: Media) -> None:
    mail = parse(io.BytesIO(samplemail.foxmail_gbk("王老师 <wang@etfly.example.cn>",
                                                   mail_media)))
    assert mail.subject == "报送安全月照片（镕溪镇敬老院）"
    assert "镕溪镇敬老院" in mail.text
    assert mail.sender == "wang@etfly.example.cn" and mail.sender_name == "王老师"
    assert [a.name for a in mail.attachments] == ["活动照片.zip", "活动总结.pdf"]


@pytest.mark.parametrize(("header", "expected"), [
    (rfc2231_continued("安全管理月活动现场照片第一组（消防演练）.jpg"),
     "安全管理月活动现场照片第一组（消防演练）.jpg"),
    (rfc2231_continued("镕溪敬老院照片.jpg", charset="gb2312"), "镕溪敬老院照片.jpg"),
    (rfc2231_continued("疏散演练.jpg", charset="utf-8"), "疏散演练.jpg"),
    (raw_gbk_name("消防培训.jpg"), "消防培训.jpg"),
    (b'filename="' + "现场.jpg".encode() + b'"', "现场.jpg"),  # raw 8-bit UTF-8
    (rfc2047_name("镕溪照片.jpg", "gb2312"), "镕溪照片.jpg"),
    (rfc2047_name("照片.jpg", "utf-8"), "照片.jpg"),
])
def test_attachment_names(header: bytes, expected: str, mail_media: Media) -> None:
    raw = message("a@b.cn", "x", [text_part("x"), file_part(mail_media.photo, header)])
    [attachment] = parse(io.BytesIO(raw)).attachments
    assert attachment.name == expected
    assert attachment.payload() == mail_media.photo


def test_rfc2231_continuations_really_continue() -> None:
    header = rfc2231_continued("安全管理月活动现场照片第一组.jpg").decode()
    assert "filename*0*=gbk''" in header and "filename*2*=" in header


def test_gbk_zip_members_are_reported_by_their_chinese_names(tmp_path: Path,
                                                             mail_media: Media) -> None:
    config = load_config(write_config(tmp_path))
    drop(tmp_path / "inbox", "m.eml",
         samplemail.foxmail_gbk("wang@etfly.example.cn", mail_media))
    poll_once(config)
    with open_repository(config) as store:
        [row] = store.messages()
        zipped = store.attachments(row.id)[0].verdicts
    assert [v["path"] for v in zipped] == ["活动照片.zip!培训现场.jpg", "活动照片.zip!应急演练.jpg"]
    assert all(v["ok"] and v["kind"] == "photo" for v in zipped)


def test_cloud_attachment_links_are_detected_and_explained(tmp_path: Path) -> None:
    raw = samplemail.cloud_attachment("byg@dhmz.example.cn")
    mail = parse(io.BytesIO(raw))
    [link] = mail.cloud_links
    assert link.name == "应急演练视频.mp4"
    assert link.url.startswith("https://mail.163.com/large-attachment-download/")
    qq = message("a@qq.com", "x", [text_part(
        "超大附件\n演练.mp4 https://wx.mail.qq.com/ftn/download?func=3&k=abc\n")])
    assert [c.url for c in parse(io.BytesIO(qq)).cloud_links] == [
        "https://wx.mail.qq.com/ftn/download?func=3&k=abc"]

    config = load_config(write_config(tmp_path))
    drop(tmp_path / "inbox", "m.eml", raw)
    poll_once(config)
    reply = next((tmp_path / "outbox" / "new").iterdir()).read_bytes().decode()
    assert "=?utf-8?" in reply or "Content-Transfer-Encoding" in reply
    text = _plain_text(reply.encode())
    assert "超大附件" in text and "应急演练视频.mp4" in text and "直接作为附件" in text


def _plain_text(data: bytes) -> str:
    import email
    from email import policy

    return email.message_from_bytes(data, policy=policy.default) \
        .get_body(("plain",)).get_content()


HOSTILE_NAMES = ["../../x.jpg", "..\\..\\windows\\x.jpg", "/etc/passwd", "CON.jpg",
                 "a\x00b\x07c\r\n.jpg", "x" * 300 + ".jpg", "....", ""]


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_safe_name(hostile: str) -> None:
    name = safe_name(hostile, 0)
    assert "/" not in name and "\\" not in name and ".." not in name
    assert not any(ord(char) < 32 for char in name)
    assert 0 < len(name) <= 120
    assert name.split(".")[0].lower() != "con"


def test_hostile_filenames_write_nothing_outside_storage(tmp_path: Path,
                                                         mail_media: Media) -> None:
    config = load_config(write_config(tmp_path))
    parts = [text_part("x")]
    for hostile in HOSTILE_NAMES:
        quoted = hostile.replace("\\", "\\\\").replace('"', '\\"').replace("\r\n", "")
        parts.append(file_part(mail_media.photo, f'filename="{quoted}"'.encode()))
    drop(tmp_path / "inbox", "m.eml", message("fuli@dhmz.example.cn", "x", parts))
    before = files_under(tmp_path) | files_under(tmp_path.parent)
    poll_once(config)
    created = (files_under(tmp_path) | files_under(tmp_path.parent)) - before
    storage, outbox = tmp_path / "storage", tmp_path / "outbox"
    inbox = tmp_path / "inbox"
    stray = [path for path in created
             if not path.is_relative_to(storage) and not path.is_relative_to(outbox)
             and not path.is_relative_to(inbox)]
    assert stray == []
    # Inside storage every file is named by a hash (or is the database, or the key of the
    # upload link the reply carries).
    for path in files_under(storage):
        assert path.name.startswith("safetymonth.db") or len(path.name) == 64 \
            or path.name == KEY_FILE
    with open_repository(config) as store:
        [row] = store.messages()
        names = [a.name for a in store.attachments(row.id)]
    assert len(names) == len(HOSTILE_NAMES)
    assert all("/" not in name and ".." not in name for name in names)


BROKEN = {
    "no-closing-boundary": (
        b"From: fuli@dhmz.example.cn\r\nSubject: x\r\nMessage-ID: <b1@x>\r\n"
        b"Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\n"
        b"Content-Type: text/plain\r\n\r\nhello\r\n--zz\r\nContent-Type: image/jpeg; "
        b"name=a.jpg\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRg"),
    "wrong-boundary": (
        b"From: fuli@dhmz.example.cn\r\nSubject: x\r\nMessage-ID: <b2@x>\r\n"
        b"Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--yy\r\n"
        b"Content-Type: text/plain\r\n\r\nhello\r\n--yy--\r\n"),
    "bad-base64": (
        b"From: fuli@dhmz.example.cn\r\nSubject: x\r\nMessage-ID: <b3@x>\r\n"
        b"Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\n"
        b"Content-Type: image/jpeg; name=a.jpg\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"!!!!not base64 at all@@@@\r\n--zz--\r\n"),
    "huge-header": (
        b"From: fuli@dhmz.example.cn\r\nMessage-ID: <b4@x>\r\nSubject: " + b"A" * 300_000 +
        b"\r\nX-Long: " + b"y " * 100_000 + b"\r\n\r\nbody\r\n"),
    "unknown-charset": (
        b"From: fuli@dhmz.example.cn\r\nMessage-ID: <b5@x>\r\n"
        b"Subject: =?x-klingon?B?" + base64.b64encode("主题".encode("gbk")) + b"?=\r\n"
        b"Content-Type: text/plain; charset=x-klingon\r\n\r\n" + "正文".encode("gbk")),
    "garbage": b"\x00\xff\xfe garbage \x00\r\n\r\n\x00",
    "empty": b"",
    "no-from": b"Subject: nobody\r\nMessage-ID: <b6@x>\r\n\r\nhi\r\n",
    # UTF-7 decodes "+2D0-" to a lone surrogate, which SQLite refuses to store.
    "utf7-lone-surrogate": (
        b"From: fuli@dhmz.example.cn\r\nMessage-ID: <b8@x>\r\nSubject: =?utf-7?q?+2D0-?=\r\n"
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: image/jpeg; "
        b"name=\"=?utf-7?q?+2D0-.jpg?=\"\r\n\r\nxx\r\n--zz--\r\n"),
    "nested-broken-multipart": (
        b"From: fuli@dhmz.example.cn\r\nMessage-ID: <b7@x>\r\n"
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"
        b"Content-Type: multipart/alternative\r\n\r\n--a--\r\n"),
}


def test_malformed_mime_gets_a_record_and_a_reply_or_a_reason(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = load_config(write_config(tmp_path))
    for name, data in BROKEN.items():
        drop(tmp_path / "inbox", f"{name}.eml", data)
    with caplog.at_level(logging.INFO):
        poll_once(config)
    with open_repository(config) as store:
        rows = store.messages()
        replied = {row.message for row in store.replies()}
    assert len(rows) == len(BROKEN)
    for row in rows:
        assert row.state == PROCESSED, (row.source_key, row.last_error)
        assert row.id in replied or row.no_reply, row.source_key
        # One log line per message, naming it.
        assert any(row.source_key in record.getMessage() for record in caplog.records)
    by_key = {row.source_key: row for row in rows}
    assert by_key["maildir:no-from.eml"].no_reply == "no usable From address"
    assert "主题" in by_key["maildir:unknown-charset.eml"].subject
    assert by_key["maildir:utf7-lone-surrogate.eml"].subject == "?"
    assert "Traceback" not in caplog.text


def test_encoded_line_breaks_never_reach_the_headers_of_a_reply(tmp_path: Path) -> None:
    # RFC 2047 can encode CR and LF: decoded as they are, they would end the reply's header
    # block inside its Subject (dropping Auto-Submitted into the body) or add a Bcc.
    config = load_config(write_config(tmp_path))
    drop(tmp_path / "inbox", "inject.eml",
         b"From: fuli@dhmz.example.cn\r\nMessage-ID: <inject@x>\r\n"
         b"References: =?us-ascii?q?<a@x>=0D=0ABcc:_victim@example.cn?=\r\n"
         b"Subject: =?us-ascii?q?hi=0A=0AX-Injected:_yes?=\r\n\r\nbody\r\n")
    poll_once(config)
    [path] = (tmp_path / "outbox" / "new").iterdir()
    reply = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert reply["Subject"] == "Re: hi X-Injected: yes"
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["X-Injected"] is None and reply["Bcc"] is None
    assert "victim" not in str(reply["To"])
