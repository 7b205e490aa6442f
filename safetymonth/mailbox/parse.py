"""A raw message in, the parts intake needs out: sender, subject, attachments, cloud links.

Chinese mail is the normal case: charsets (:mod:`safetymonth.mailbox.charsets`), unfolded
headers and RFC 2231 parameters (:mod:`.headers`), the sender read from the raw From header
(:mod:`.senders`), hostile structure bounded (:mod:`.mimepolicy`), large bodies kept out of
the parser (:mod:`.runs`) and decoded in chunks (:mod:`.attachments`). Nothing here raises on
broken input: problems become ``defects``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from typing import BinaryIO

from safetymonth.mailbox.attachments import Attachment, decode_payload, restore_part, safe_name
from safetymonth.mailbox.charsets import clean, decode_text, decode_words, recover_8bit
from safetymonth.mailbox.cloudexpiry import body_text
from safetymonth.mailbox.cloudlinks import CloudLink, find_cloud_links
from safetymonth.mailbox.headers import header_end, message_id_of, one_line, param, raw_items
from safetymonth.mailbox.mimepolicy import POLICY, Part
from safetymonth.mailbox.runs import Runs, skeleton
from safetymonth.mailbox.senders import sender_of


@dataclass
class ReportPart:
    """A machine report's status part (message/delivery-status, .../disposition-notification,
    .../feedback-report): its blocks of fields, names lowercased (a DSN has one block for the
    message and one per recipient)."""

    content_type: str
    blocks: list[dict[str, str]]


@dataclass
class ParsedMail:
    headers: list[tuple[str, str]]
    message_id: str | None = None
    sender: str | None = None
    sender_name: str = ""
    sender_problem: str | None = None  # why no reply can go to the From (no address, several)
    subject: str = ""
    date: str | None = None
    references: str = ""
    text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    cloud_links: list[CloudLink] = field(default_factory=list)
    cloud_body: str = ""  # the body's text, kept when it holds cloud links (their expiry)
    defects: list[str] = field(default_factory=list)
    report_type: str = ""  # the report-type of a multipart/report message
    reports: list[ReportPart] = field(default_factory=list)
    embedded_ids: list[str] = field(default_factory=list)  # of attached messages / headers

    def get(self, name: str) -> str | None:
        """The first (topmost) value of a header, decoded."""
        values = self.get_all(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

def parse_headers(raw: bytes) -> ParsedMail:
    """Only the header block: cheap, for duplicate checks before the body is read.

    The block is cut out first: ``headersonly=True`` would still read and keep the body.
    """
    end = header_end(raw)
    block = raw[:end] if end else raw
    message = BytesParser(policy=POLICY).parsebytes(block, headersonly=True)
    return _header_fields(message)


def parse(stream: BinaryIO) -> ParsedMail:
    """The whole message: headers, body text, attachments and cloud-attachment links.

    ``stream`` must stay open while the attachments' bodies are read."""
    runs = Runs(stream)
    message = BytesParser(policy=POLICY).parsebytes(skeleton(stream, runs))
    mail = _header_fields(message)
    mail.defects += [type(defect).__name__ for defect in message.defects]
    html: list[str] = []
    for part in _leaves(message):
        _take_part(mail, part, html, runs)
    mail.cloud_links = find_cloud_links(mail.text, "\n".join(html))
    if mail.cloud_links:
        mail.cloud_body = body_text(mail.text, "\n".join(html))
    return mail

def _header_fields(message: EmailMessage) -> ParsedMail:
    raw = raw_items(message)
    headers = [(key, one_line(decode_words(value))) for key, value in raw]
    mail = ParsedMail(headers=headers)
    mail.message_id = message_id_of(mail.get("Message-ID"))
    mail.subject = mail.get("Subject") or ""
    mail.date = mail.get("Date")
    mail.references = " ".join(filter(None, [mail.get("References")]))
    raw_from = next((value for key, value in raw if key.lower() == "from"), None)
    mail.sender_name, mail.sender, mail.sender_problem = sender_of(raw_from)
    content_type = next((value for key, value in raw if key.lower() == "content-type"), "")
    if content_type.strip().lower().startswith("multipart/report"):
        mail.report_type = (param(content_type, "report-type") or "").strip().lower()
    return mail

def _leaves(part: EmailMessage) -> Iterator[EmailMessage]:
    """Non-multipart parts in order; an attached message is one leaf, not opened."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        for child in payload if isinstance(payload, list) else []:
            yield from _leaves(child)
    else:
        yield part


def _take_part(mail: ParsedMail, part: EmailMessage, html: list[str], runs: Runs) -> None:
    if isinstance(part, Part) and part.too_deep and part.get_content_maintype() != "message":
        mail.defects.append(TOO_DEEP)  # a multipart nested too deep: its parts stay unread
        return
    content_type = clean(recover_8bit(part.get_content_type()))
    if content_type in REPORT_PARTS:  # read for the report, and kept as a file too
        mail.reports.append(ReportPart(content_type, _report_blocks(part)))
    if content_type in EMBEDDED_HEADERS and mail.report_type:
        _take_embedded_id(mail, part, runs)
    raw = {key.lower(): value for key, value in reversed(raw_items(part))}
    disposition = raw.get("content-disposition", "")
    filename = (param(disposition, "filename") if disposition else None) or \
        (param(raw["content-type"], "name") if "content-type" in raw else None)
    inline_text = content_type in ("text/plain", "text/html") and not filename and \
        not disposition.strip().lower().startswith("attachment")
    if inline_text:
        restore_part(part, runs)
        text = _text_of(part, mail)
        if content_type == "text/html":
            html.append(text)
        else:
            mail.text += text
        return
    if not filename:
        filename = UNNAMED.get(content_type)
    position = len(mail.attachments)
    mail.attachments.append(
        Attachment(position, safe_name(filename, position), content_type, part, runs))


TOO_DEEP = "NestingTooDeep"
# The names of unnamed parts a clerk opens as a file: an attached message, a report's status.
UNNAMED = {"message/rfc822": "邮件.eml", "message/global": "邮件.eml",
           "message/delivery-status": "投递状态.txt",
           "message/global-delivery-status": "投递状态.txt",
           "message/disposition-notification": "阅读回执.txt",
           "message/global-disposition-notification": "阅读回执.txt",
           "message/feedback-report": "投诉报告.txt",
           "text/rfc822-headers": "邮件头.txt", "message/global-headers": "邮件头.txt"}
# The status parts of machine reports: DSNs (RFC 3464, 6533), MDNs (RFC 8098), ARF (RFC 5965).
REPORT_PARTS = frozenset({"message/delivery-status", "message/global-delivery-status",
                          "message/disposition-notification",
                          "message/global-disposition-notification", "message/feedback-report"})
# Parts that carry the headers of a message a report is about.
EMBEDDED_HEADERS = frozenset({"message/rfc822", "message/global", "text/rfc822-headers",
                              "message/global-headers"})
MAX_FIELD = 500


def _report_blocks(part: EmailMessage) -> list[dict[str, str]]:
    """The field blocks of a report part, as the parser reads them (each a headers-only
    part; a delivery-status part holds one per blank-line-separated block)."""
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else []
    return [{key.lower(): one_line(decode_words(value))[:MAX_FIELD]
             for key, value in raw_items(block)} for block in blocks]


def _take_embedded_id(mail: ParsedMail, part: EmailMessage, runs: Runs) -> None:
    """The Message-ID of an attached message or header block (a bounce quotes ours)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        value = next((value for message in payload[:1] for key, value in raw_items(message)
                      if key.lower() == "message-id"), None)
        found = message_id_of(one_line(decode_words(value))) if value else None
    else:
        restore_part(part, runs)
        found = parse_headers(decode_payload(part)).message_id
    if found:
        mail.embedded_ids.append(found)


def _text_of(part: EmailMessage, mail: ParsedMail) -> str:
    data = part.get_payload(decode=True)
    mail.defects += [type(defect).__name__ for defect in part.defects]
    if not isinstance(data, bytes):
        return ""
    charset = param(dict(raw_items(part)).get("Content-Type", ""), "charset")
    return decode_text(data, charset)
