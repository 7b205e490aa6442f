"""Mail as clients write it, through a real Dovecot (issue 16): every header folded at every
place RFC 5322 allows, display names in UTF-8, GB18030 and GBK with and without base64
padding, a From with two addresses, and an 8-bit charset parameter."""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path

import pytest

from safetymonth.config import Config, load_config
from safetymonth.mailbox.samplemail import Media, rfc2231_continued
from safetymonth.mailbox.service import poll_once
from safetymonth.storage.repository import PROCESSED, open_repository
from tests.support.mailservers import PASSWORD, Dovecot, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

PASSWORD_ENV = "SAFETYMONTH_TEST_IMAP_PASSWORD"
UNIT = "德化县儿童福利院"  # every address @etfly.example.cn (config.DEFAULT_UNITS)
# 镕 and 堃 are in GBK and GB18030 but not in GB 2312; long enough to need several words.
NAME = "镕溪镇敬老院王小堃安全管理月材料报送联络员办公室"
SUBJECT = "安全管理月材料：消防疏散演练现场照片（第一组，共三组）"
FILE_NAME = "安全管理月活动现场照片第一组（消防疏散演练）.jpg"


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def imap_config(tmp_path: Path, server: Dovecot, user: str) -> Config:
    block = {"host": "127.0.0.1", "port": server.port, "security": "none", "user": user,
             "password_env": PASSWORD_ENV}
    return load_config(write_config(tmp_path, mailbox={"source": {"imap": block}}))


def words(text: str, charset: str, padded: bool = True, chars: int = 6) -> list[bytes]:
    """``text`` as RFC 2047 base64 words of ``chars`` characters each, as clients split a
    long name; without padding when ``padded`` is false (some webmails drop the "=")."""
    out = []
    for start in range(0, len(text), chars):
        encoded = base64.b64encode(text[start:start + chars].encode(charset)).decode()
        out.append(f"=?{charset}?B?{encoded if padded else encoded.rstrip('=')}?=".encode())
    return out


def fold(line: bytes, where: str = "all") -> bytes:
    """A header line folded before its white space: before every space ("all"), only the
    first (right after the colon) or only the last (before the address or last word)."""
    spaces = [found.start() for found in re.finditer(rb" ", line)]
    chosen = {"all": spaces, "first": spaces[:1], "last": spaces[-1:]}[where]
    for at in reversed(chosen):
        line = line[:at] + b"\r\n" + line[at:]
    return line


def build(headers: list[bytes], parts: list[tuple[list[bytes], bytes]]) -> bytes:
    """A multipart/mixed message, every header (the parts' too) folded everywhere."""
    boundary = f"=_folded_{uuid.uuid4().hex}"
    top = [*headers, b"MIME-Version: 1.0",
           fold(f'Content-Type: multipart/mixed; boundary="{boundary}"'.encode())]
    out = [b"\r\n".join(top), b""]
    for part_headers, body in parts:
        out += [f"--{boundary}".encode(), *part_headers, b""]
        out.append(base64.encodebytes(body).replace(b"\n", b"\r\n").rstrip(b"\r\n"))
    out += [f"--{boundary}--".encode(), b""]
    return b"\r\n".join(out)


def photo_part(media: Media) -> tuple[list[bytes], bytes]:
    return ([fold(b"Content-Type: image/jpeg"),
             b"Content-Disposition: attachment;\r\n " + rfc2231_continued(FILE_NAME),
             b"Content-Transfer-Encoding: base64"], media.photo)


def folded_submission(sender: str, name_words: list[bytes], where: str, message_id: str,
                      media: Media) -> bytes:
    from_line = b"From: " + b" ".join(name_words) + f" <{sender}>".encode()
    subject_line = b"Subject: " + b" ".join(words(SUBJECT, "utf-8", chars=8))
    headers = [fold(from_line, where), fold(subject_line),
               fold(b"To: =?utf-8?B?5a6J5YWo566h55CG5pyI?= <aqgly@mzj.example.gov.cn>"),
               fold(f"Message-ID: {message_id}".encode()),
               fold(b"Date: Mon, 17 Jun 2024 09:30:00 +0800")]
    text = ([b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: base64"],
            "材料见附件。".encode())
    return build(headers, [text, photo_part(media)])


CASES = [(charset, padded, where) for charset in ("utf-8", "gb18030", "gbk")
         for padded in (True, False) for where in ("all", "first", "last")]


def test_folded_headers_keep_sender_name_subject_and_file_names(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, mail_media: Media) -> None:
    config = imap_config(tmp_path, dovecot_server, imap_user)
    expected = {}
    for index, (charset, padded, where) in enumerate(CASES):
        sender = f"lianluo{index}@etfly.example.cn"
        message_id = f"<folded-{index}@etfly.example.cn>"
        raw = folded_submission(sender, words(NAME, charset, padded), where, message_id,
                                mail_media)
        assert b"\r\n " in raw.split(b"\r\n\r\n")[0]  # the header block is folded
        dovecot_server.append(imap_user, raw)
        expected[message_id] = sender
    assert poll_once(config).processed == len(CASES)

    with open_repository(config) as store:
        rows = {row.message_id: row for row in store.messages()}
        replies = {reply.recipient: reply for reply in store.replies()}
        for message_id, sender in expected.items():
            row = rows[message_id]
            assert (row.state, row.sender, row.sender_name, row.subject, row.unit) == \
                (PROCESSED, sender, NAME, SUBJECT, UNIT), message_id
            assert [item.name for item in store.attachments(row.id)] == [FILE_NAME]
            assert row.no_reply is None
            assert replies[sender].message == row.id


def test_a_from_with_two_addresses_records_the_first_and_gets_no_reply(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, mail_media: Media) -> None:
    config = imap_config(tmp_path, dovecot_server, imap_user)
    first, second = "zhang@etfly.example.cn", "li@example.com"
    from_line = b"From: " + words("张三", "gb18030")[0] + f" <{first}>, ".encode() + \
        words("李四", "gb18030")[0] + f" <{second}>".encode()
    raw = build([fold(from_line), b"Subject: =?GB18030?B?" +
                 base64.b64encode("材料".encode("gb18030")) + b"?=",
                 b"Message-ID: <two-from@etfly.example.cn>"], [photo_part(mail_media)])
    dovecot_server.append(imap_user, raw)
    assert poll_once(config).processed == 1
    with open_repository(config) as store:
        [row] = store.messages()
        assert (row.sender, row.sender_name) == (first, "张三")
        assert row.no_reply is not None and "2 addresses in From" in row.no_reply
        assert store.replies() == []
        assert [item.name for item in store.attachments(row.id)] == [FILE_NAME]


@pytest.mark.parametrize("charset", [b'"\xff"', '"国标"'.encode("gbk"), b"\xb9\xfa\xb1\xea"])
def test_an_8bit_charset_parameter_does_not_fail_the_mail(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, mail_media: Media,
        charset: bytes) -> None:
    config = imap_config(tmp_path, dovecot_server, imap_user)
    text = "材料见附件。".encode("gbk")
    headers = [b"From: lianluo@etfly.example.cn", b"Subject: photo",
               b"Message-ID: <eight-bit@etfly.example.cn>"]
    boundary = b"=_8bit"
    raw = b"\r\n".join([
        *headers, b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="' + boundary + b'"', b"",
        b"--" + boundary, b"Content-Type: text/plain; charset=" + charset,
        b"Content-Transfer-Encoding: 8bit", b"", text,
        b"--" + boundary, b"Content-Type: image/jpeg",
        b'Content-Disposition: attachment; filename="photo.jpg"',
        b"Content-Transfer-Encoding: base64", b"",
        base64.encodebytes(mail_media.photo).replace(b"\n", b"\r\n").rstrip(b"\r\n"),
        b"--" + boundary + b"--", b""])
    dovecot_server.append(imap_user, raw)
    assert poll_once(config).processed == 1
    with open_repository(config) as store:
        [row] = store.messages()
        assert (row.state, row.unit, row.last_error) == (PROCESSED, UNIT, None)
        [photo] = store.attachments(row.id)
        assert store.path(photo.stored_name).read_bytes() == mail_media.photo
        assert photo.verdicts[0]["ok"] is True
        [reply] = store.replies()
        assert reply.recipient == "lianluo@etfly.example.cn"
