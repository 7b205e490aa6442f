"""Large messages: the parser sees a skeleton, attachment bodies are decoded in chunks from
the stream, and every result equals what parsing the whole message gives."""

from __future__ import annotations

import base64
import binascii
import email
import io
import os
from email import policy

import pytest

from safetymonth.mailbox import runs as parse_module
from safetymonth.mailbox.parse import parse
from safetymonth.mailbox.runs import Runs, skeleton
from safetymonth.mailbox.samplemail import file_part, message, text_part, utf8_name

BIG = os.urandom(3 * 1024 * 1024 + 7)


def reference(raw: bytes) -> list[bytes]:
    """Attachment bodies as the email package decodes the whole message."""
    whole = email.message_from_bytes(raw, policy=policy.default)
    return [part.get_payload(decode=True) for part in whole.walk()
            if part.get_filename()]


@pytest.mark.parametrize("chunk", [1024 * 1024, 65_537, 4_099])
@pytest.mark.parametrize("line_end", [b"\r\n", b"\n"])
def test_big_attachment_is_decoded_in_chunks(monkeypatch: pytest.MonkeyPatch, chunk: int,
                                             line_end: bytes) -> None:
    monkeypatch.setattr(parse_module, "SCAN_CHUNK", chunk)
    text = "正文" * 20_000  # a long text part is a run too, and must come back whole
    raw = message("a@b.cn", "大附件", [text_part(text),
                                    file_part(BIG, utf8_name("视频.mp4")),
                                    file_part(b"small", utf8_name("小.txt"))])
    raw = raw.replace(b"\r\n", line_end)
    stream = io.BytesIO(raw)
    outline = skeleton(stream, Runs(stream))
    assert len(outline) < 16 * 1024  # the parser never sees the bodies
    stream.seek(0)
    mail = parse(stream)
    assert mail.text == text
    assert [a.name for a in mail.attachments] == ["视频.mp4", "小.txt"]
    pieces = list(mail.attachments[0].chunks())
    assert len(pieces) > 1 and b"".join(pieces) == BIG
    assert b"".join(mail.attachments[1].chunks()) == b"small"
    assert [a.payload() for a in mail.attachments] == reference(raw)


def test_attached_message_keeps_its_big_attachment() -> None:
    inner = message("x@c.cn", "原邮件", [text_part("见附件"), file_part(BIG, utf8_name("a.bin"))])
    outer = (b"From: a@b.cn\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
             b"Content-Type: text/plain\r\n\r\nforwarded\r\n--zz\r\n"
             b"Content-Type: message/rfc822\r\n"
             b'Content-Disposition: attachment; filename="fwd.eml"\r\n\r\n' + inner +
             b"\r\n--zz--\r\n")
    [attached] = parse(io.BytesIO(outer)).attachments
    assert attached.name == "fwd.eml"
    data = b"".join(attached.chunks())
    assert reference(data) == [BIG]


def test_stray_characters_inside_a_big_run_decode_as_a_whole_decode_does() -> None:
    body = base64.encodebytes(BIG).replace(b"\n", b"\r\n")
    middle = len(body) // 2 - (len(body) // 2) % 78
    broken = body[:middle] + b"!!not base64!!\r\n" + body[middle:]
    raw = (b"From: a@b.cn\r\nMessage-ID: <bad@x>\r\nContent-Type: multipart/mixed; "
           b'boundary="zz"\r\n\r\n--zz\r\nContent-Type: image/jpeg; name=a.jpg\r\n'
           b"Content-Transfer-Encoding: base64\r\n\r\n" + broken + b"--zz--\r\n")
    [attachment] = parse(io.BytesIO(raw)).attachments
    # The stray letters shift the decoding; what matters is that nothing differs from
    # decoding the whole body in one pass, which skips the characters base64 does not use.
    assert b"".join(attachment.chunks()) == binascii.a2b_base64(broken)


def test_truncated_base64_falls_back_to_the_tolerant_decoder() -> None:
    body = base64.encodebytes(BIG).replace(b"\n", b"\r\n")[:-7] + b"\r\n"
    raw = (b"From: a@b.cn\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
           b"Content-Type: image/jpeg; name=a.jpg\r\nContent-Transfer-Encoding: base64\r\n"
           b"\r\n" + body + b"--zz--\r\n")
    [attachment] = parse(io.BytesIO(raw)).attachments
    with pytest.raises(ValueError):
        b"".join(attachment.chunks())  # intake then calls payload()
    assert attachment.payload() == reference(raw)[0]
