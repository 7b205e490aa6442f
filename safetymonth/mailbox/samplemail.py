"""Realistic sample mail, byte for byte as Chinese clients write it, for the demo, the tests
and the benchmark.

``python -m safetymonth.mailbox.samplemail FOLDER`` fills the Maildir FOLDER with a week of
mail: a complete unit, a failing photo, a GBK Foxmail message, an auto-reply and more.
"""

from __future__ import annotations

import base64
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from safetymonth import samples


@dataclass
class Part:
    """A MIME leaf: its raw header lines and its (already decoded) content."""

    headers: list[bytes]
    data: bytes


def text_part(text: str, charset: str = "utf-8", subtype: str = "plain") -> Part:
    return Part([f"Content-Type: text/{subtype}; charset={charset}".encode(),
                 b"Content-Transfer-Encoding: base64"], text.encode(_codec(charset)))


def file_part(data: bytes, name_header: bytes, content_type: str = "application/octet-stream"
              ) -> Part:
    """``name_header`` is the filename as written on the wire, e.g. ``filename="a.jpg"``."""
    return Part([f"Content-Type: {content_type}".encode() + b"; " +
                 name_header.replace(b"filename", b"name", 1),
                 b"Content-Disposition: attachment; " + name_header,
                 b"Content-Transfer-Encoding: base64"], data)


def utf8_name(name: str) -> bytes:
    """What Outlook, Apple Mail and Python write: RFC 2231 ``filename*=utf-8''...``."""
    from urllib.parse import quote

    return f"filename*=utf-8''{quote(name)}".encode()


def rfc2047_name(name: str, charset: str = "gb2312") -> bytes:
    """Foxmail and 163 webmail: an RFC 2047 encoded word inside the quoted string."""
    encoded = base64.b64encode(name.encode(_codec(charset))).decode()
    return f'filename="=?{charset}?B?{encoded}?="'.encode()


def raw_gbk_name(name: str) -> bytes:
    """Old clients: undeclared 8-bit GBK bytes straight in the header."""
    return b'filename="' + name.encode("gbk") + b'"'


def rfc2231_continued(name: str, charset: str = "gbk", piece: int = 12) -> bytes:
    """A long name split into RFC 2231 continuations ``filename*0*=``, ``filename*1*=``..."""
    from urllib.parse import quote

    encoded = quote(name.encode(_codec(charset)))
    chunks = [encoded[i:i + piece] for i in range(0, len(encoded), piece)]
    # Never split a %XX escape across two chunks.
    merged: list[str] = []
    for chunk in chunks:
        if merged and (merged[-1].endswith("%") or merged[-1][-2:-1] == "%"):
            merged[-1] += chunk
        else:
            merged.append(chunk)
    pieces = [f"filename*0*={charset}''{merged[0]}"]
    pieces += [f"filename*{i}*={chunk}" for i, chunk in enumerate(merged[1:], start=1)]
    return ";\r\n\t".join(pieces).encode()


def message(sender: str, subject_header: bytes | str, parts: list[Part],
            extra: list[bytes] | None = None, message_id: str | None = None,
            to: str = "aqgly@mzj.example.gov.cn", date: datetime | None = None) -> bytes:
    """A multipart/mixed message from raw pieces (CRLF line ends, base64 bodies)."""
    boundary = f"----=_Part_{uuid.uuid4().hex}"
    subject = subject_header if isinstance(subject_header, bytes) else \
        _encoded_word(subject_header, "utf-8")
    headers = [
        *(extra or []),
        f"From: {sender}".encode(),
        f"To: {to}".encode(),
        b"Subject: " + subject,
        f"Date: {format_datetime(date or datetime.now(UTC))}".encode(),
        f"Message-ID: {message_id or f'<{uuid.uuid4().hex}@sample.example>'}".encode(),
        b"MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"'.encode(),
    ]
    out = [b"\r\n".join(headers), b"", b"This is a multi-part message in MIME format.", b""]
    for part in parts:
        out.append(f"--{boundary}".encode())
        out.extend(part.headers)
        out.append(b"")
        out.append(base64.encodebytes(part.data).replace(b"\n", b"\r\n").rstrip(b"\r\n"))
    out.append(f"--{boundary}--".encode())
    out.append(b"")
    return b"\r\n".join(out)


def _encoded_word(text: str, charset: str) -> bytes:
    encoded = base64.b64encode(text.encode(_codec(charset))).decode()
    return f"=?{charset}?B?{encoded}?=".encode()


def _codec(charset: str) -> str:
    # Senders label GB18030 text "gb2312"; encode it the way they really do.
    return "gb18030" if charset.lower() in ("gb2312", "gbk") else charset


# --- typical messages ----------------------------------------------------------------------


@dataclass
class Media:
    """Real files made once by :mod:`safetymonth.samples`."""

    photo: bytes
    small_photo: bytes
    video: bytes
    document: bytes
    pdf: bytes


def make_media(folder: Path | None = None) -> Media:
    with tempfile.TemporaryDirectory() as temp:
        root = folder or Path(temp)
        root.mkdir(parents=True, exist_ok=True)
        return Media(
            photo=samples.make_photo(root / "p.jpg", 1920, 1080).read_bytes(),
            small_photo=samples.make_photo(root / "s.jpg", 1280, 960).read_bytes(),
            video=samples.make_video(root / "v.mp4", 1280, 720, seconds=0.4).read_bytes(),
            document=samples.make_docx(root / "d.docx").read_bytes(),
            pdf=samples.make_pdf(root / "d.pdf").read_bytes(),
        )


def complete_submission(sender: str, media: Media, message_id: str | None = None) -> bytes:
    """An Outlook-style UTF-8 message with a summary, a video and a photo: everything passes."""
    body = "您好：\r\n附件是我单位安全管理月活动总结、视频和照片，请查收。\r\n"
    return message(sender, "安全管理月活动材料报送", [
        text_part(body),
        file_part(media.document, utf8_name("安全管理月活动总结.docx"),
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        file_part(media.video, utf8_name("消防疏散演练.mp4"), "video/mp4"),
        file_part(media.photo, utf8_name("消防演练现场.jpg"), "image/jpeg"),
    ], message_id=message_id)


def failing_photo(sender: str, media: Media, message_id: str | None = None) -> bytes:
    """163 webmail: a phone-compressed photo that is too small."""
    return message(sender, _encoded_word("活动照片", "gb2312"), [
        text_part("请查收照片。", "gb2312"),
        file_part(media.small_photo, rfc2047_name("微信压缩照片.jpg"), "image/jpeg"),
    ], extra=[b"X-Mailer: Coremail Webmail Server Version XT5.0.13"], message_id=message_id)


def foxmail_gbk(sender: str, media: Media, message_id: str | None = None) -> bytes:
    """Foxmail 7: gb2312 labels on GB18030 text (镕 is not in GB 2312), RFC 2047 names and a
    zip of photos whose member names are GBK without the UTF-8 flag."""
    with tempfile.TemporaryDirectory() as temp:
        bundle = samples.make_zip(Path(temp) / "z.zip", {"培训现场.jpg": media.photo,
                                                         "应急演练.jpg": media.photo},
                                  gbk_names=True).read_bytes()
    body = "各位领导：\r\n现将镕溪镇敬老院安全管理月活动照片打包发送，请查收。\r\n"
    return message(sender, _encoded_word("报送安全月照片（镕溪镇敬老院）", "gb2312"), [
        text_part(body, "gb2312"),
        file_part(bundle, rfc2047_name("活动照片.zip"), "application/x-zip-compressed"),
        file_part(media.pdf, raw_gbk_name("活动总结.pdf"), "application/pdf"),
    ], extra=[b"X-Mailer: Foxmail 7.2.25.228[cn]", b"X-Priority: 3"], message_id=message_id)


def auto_reply(sender: str, message_id: str | None = None) -> bytes:
    """A vacation auto-reply: it must never be answered."""
    body = text_part("您好，我正在休假，将于下周回复。")
    return message(sender, "自动回复：安全管理月通知", [body],
                   extra=[b"Auto-Submitted: auto-replied", b"X-Autoreply: yes"],
                   message_id=message_id)


def cloud_attachment(sender: str, message_id: str | None = None) -> bytes:
    """163 "超大附件": the video is a download link, not an attachment."""
    html = ('<div>视频太大，用超大附件发送。</div><div style="clear:both">'
            '<b>从网易163邮箱发来的超大附件</b><br>'
            '<a href="https://mail.163.com/large-attachment-download/index.html?p=X1&amp;'
            'file=abc">应急演练视频.mp4</a> (1.2G, 2024年7月1日 10:00 到期)</div>')
    return message(sender, "安全月视频（超大附件）", [text_part(html, subtype="html")],
                   message_id=message_id)


def build_demo_inbox(folder: Path) -> list[Path]:
    """A sample inbox as .eml files in ``folder/new`` (stable Message-IDs: re-runs dedupe)."""
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    media = make_media()
    mails = {
        "01-complete": complete_submission("fuli@dhmz.example.cn", media, "<demo-01@dhmz>"),
        "02-failing-photo": failing_photo("xzjly@dhmz.example.cn", media, "<demo-02@dhmz>"),
        "03-foxmail-gbk": foxmail_gbk("王老师 <wang@etfly.example.cn>", media,
                                      "<demo-03@etfly>"),
        "04-auto-reply": auto_reply("jiuzhu@dhmz.example.cn", "<demo-04@dhmz>"),
        "05-cloud-attachment": cloud_attachment("byg@dhmz.example.cn", "<demo-05@dhmz>"),
        "06-unknown-sender": complete_submission("someone@qq.example.com", media,
                                                 "<demo-06@qq>"),
    }
    written = []
    for name, data in mails.items():
        path = folder / "new" / f"{name}.eml"
        path.write_bytes(data)
        written.append(path)
    return written


def main() -> None:
    folder, written = samples.fill_folder_from_argv(build_demo_inbox, "var/inbox")
    print(f"wrote {written} messages to {folder / 'new'}")


if __name__ == "__main__":
    main()
