"""Compliance replies and reminders: rendered from jinja2 templates, plain text plus HTML.

A reply's id is derived from the message's hash, so a re-run queues the same reply (the outbox
refuses it as a duplicate) and its Message-ID is stable for an at-least-once transport.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import format_datetime, formataddr
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from safetymonth.config import Config, Policy, SizeRule
from safetymonth.mailbox.cloudlinks import CloudLink
from safetymonth.mailbox.headers import one_line
from safetymonth.mailbox.mimepolicy import MAX_DEPTH
from safetymonth.mailbox.owing import deadlines_text
from safetymonth.mailbox.parse import TOO_DEEP, ParsedMail
from safetymonth.report import UnitProgress
from safetymonth.validator.messages import KIND_NAMES, human_size
from safetymonth.zone import local_minute, now_in

TEMPLATES = Path(__file__).parent / "templates"
MAX_LINE = 78
# Whatever a message holds, its reply stays small: quoted text is cut, and files beyond what
# fits are counted rather than listed.
MAX_REPLY_BYTES = 100_000
MAX_SUBJECT = 200
MAX_GREETING = 60
MAX_FILE_NAME = 160
MAX_FIX = 300
MAX_FIXES = 5
MAX_LISTED_FILES = 100
MAX_CLOUD_LINKS = 20
MAX_REFERENCES = 10
MAX_DIGEST_MESSAGES = 100  # a digest lists this many messages; the rest are counted
MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")



@cache
def _environment(templates_dir: Path | None) -> Environment:
    """Templates from ``mailbox.templates_dir`` where it has them, file by file, else the
    built-in ones."""
    folders = [TEMPLATES] if templates_dir is None else [templates_dir, TEMPLATES]
    return Environment(loader=FileSystemLoader(folders), undefined=StrictUndefined,
                       autoescape=select_autoescape(enabled_extensions=("html.j2",)),
                       keep_trailing_newline=True)


@dataclass
class FileLine:
    """One file (or zip member) of a reply: its verdict in a phrase and the fixes."""

    name: str
    ok: bool
    summary: str
    fixes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def file_line(verdict: dict[str, Any]) -> FileLine:
    kind = KIND_NAMES.get(verdict["kind"], "文件")
    size = f"，{verdict['width']}×{verdict['height']}" if verdict.get("width") else ""
    fmt = f"{verdict['format']} " if verdict.get("format") else ""
    summary = f"{fmt}{kind}{size}，{'合格' if verdict['ok'] else '不合格'}"
    fixes = [cut(r["message"], MAX_FIX) for r in verdict.get("reasons", [])[:MAX_FIXES]]
    notes = [cut(w["message"], MAX_FIX) for w in verdict.get("warnings", [])[:MAX_FIXES]]
    return FileLine(name=cut(verdict["path"], MAX_FILE_NAME), ok=bool(verdict["ok"]),
                    summary=summary, fixes=fixes, notes=notes)


def cut(text: str, limit: int) -> str:
    """``text`` as one line of at most ``limit`` characters ("…" marks a cut)."""
    text = one_line(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def requirements(policy: Policy) -> str:
    photo, video = policy.photo, policy.video

    def at_least(rule: SizeRule) -> str:
        return "不低于" if policy.inclusive_for(rule) else "高于"

    return (f"照片为 {'/'.join(photo.formats)}，分辨率{at_least(photo)} {photo.min_long_side}×"
            f"{photo.min_short_side}；视频为 {'/'.join(video.formats)}，分辨率{at_least(video)} "
            f"{video.min_long_side}×{video.min_short_side}；活动总结为 "
            f"{'/'.join(policy.document.formats)}。")


def reply_id(message_sha256: str) -> str:
    return f"reply-{message_sha256[:32]}"


def reply_id_of(message_id: str, domain: str) -> str | None:
    """The id of our own reply or reminder whose Message-ID this is (see :func:`_build`),
    or None for a message we did not write."""
    ident, _, rest = message_id.strip().strip("<>").partition("@")
    return ident if rest.lower() == domain.lower() and ident else None


def reminder_id(unit: str, recipient: str, day: date) -> str:
    digest = hashlib.sha256(f"{unit}\n{recipient}".encode()).hexdigest()[:16]
    return f"remind-{digest}-{day:%Y%m%d}"


@dataclass
class Outgoing:
    """A message ready for the outbox."""

    id: str
    recipient: str
    headers: dict[str, str]
    data: bytes


def compose_reply(config: Config, mail: ParsedMail, sha256: str, unit: str | None,
                  verdicts: list[dict[str, Any]], missing: list[str],
                  received: datetime, too_large: int | None = None,
                  owed: list[dict[str, Any]] | None = None,
                  notes: list[str | None] | None = None,
                  upload_link: str | None = None) -> Outgoing:
    """The answer to one message, addressed to its From address only, and never over
    ``MAX_REPLY_BYTES``: the files that do not fit are counted, not listed. ``too_large`` is
    the size of a message that was not downloaded (over ``mailbox.max_message_size``).
    A sender that is no registered unit gets :func:`compose_stranger_reply` instead. With
    deliverables configured, ``owed`` lists each one still owed (name, deadline, overdue) and
    ``notes`` says, per file, what it counts for (see :mod:`~safetymonth.mailbox.owing`).
    ``upload_link`` is the unit's upload link: files too big for mail go there."""
    assert mail.sender is not None
    if unit is None:
        return compose_stranger_reply(config, mail.sender, sha256, too_large)
    limit = config.mailbox.max_message_size
    subject = cut(mail.subject, MAX_SUBJECT)
    files = [file_line(verdict) for verdict in verdicts]
    for line, note in zip(files, notes or [], strict=False):
        if note:
            line.notes.insert(0, note)
    context = {
        "too_large": too_large and {"size": human_size(too_large), "limit": human_size(limit)},
        "greeting": unit or cut(mail.sender_name, MAX_GREETING) or mail.sender,
        "campaign": config.campaign.name,
        "unit": unit,
        "sender": mail.sender,
        "subject": subject or "（无主题）",
        # The campaign's clock, not the server's: a UTC host must still say Beijing time.
        "received": local_minute(received, config.campaign.timezone),
        "total": len(files),
        "unread": TOO_DEEP in mail.defects and MAX_DEPTH,
        "cloud_links": [_link(link) for link in mail.cloud_links[:MAX_CLOUD_LINKS]],
        "missing": missing,
        "owed": owed,
        "deadlines": deadlines_text(config) if owed is not None else None,
        "deadline": _day(config.campaign.deadline),
        "requirements": requirements(config.policy),
        "address": config.mailbox.address,
        "upload_link": upload_link,
        **_voice(config),
    }
    subject = subject if subject.lower().startswith("re:") else f"Re: {subject or '安全管理月材料'}"
    extra = {"In-Reply-To": mail.message_id or "",
             "References": _references(mail.references, mail.message_id)}
    shown = files[:MAX_LISTED_FILES]
    while True:
        unlisted = files[len(shown):]
        context["files"] = shown
        context["unlisted"] = unlisted and {"count": len(unlisted),
                                            "ok": sum(1 for line in unlisted if line.ok)}
        outgoing = _build(config, reply_id(sha256), mail.sender, subject, "reply", context,
                          "auto-replied", extra)
        if len(outgoing.data) <= MAX_REPLY_BYTES or not shown:
            return outgoing
        shown = shown[:len(shown) // 2]


def compose_stranger_reply(config: Config, sender: str, sha256: str,
                           too_large: int | None = None) -> Outgoing:
    """The answer to an address that is no registered unit's: that it is not registered, and
    whom to contact. It quotes nothing the message held (no subject, name, file name or
    Message-ID): a From can be forged, and a reply that repeated its text would let anyone
    make the bureau's address carry their words to a third party (backscatter)."""
    limit = config.mailbox.max_message_size
    subject = f"{config.campaign.name}材料收件箱：发信邮箱未登记"
    context = {"campaign": config.campaign.name, "subject": subject,
               "too_large": too_large and human_size(limit),
               "deadline": _day(config.campaign.deadline),
               "requirements": requirements(config.policy),
               "address": config.mailbox.address, **_voice(config)}
    return _build(config, reply_id(sha256), sender, subject, "stranger", context,
                  "auto-replied", {})


def _references(references: str, message_id: str | None) -> str:
    """The reply's References: the message's own, then its Message-ID; of a long chain the
    first and the latest ids only (RFC 5322 3.6.4 allows trimming), so the header stays
    short whatever the message carried."""
    ids = MESSAGE_ID.findall(references) + ([message_id] if message_id else [])
    if len(ids) > MAX_REFERENCES:
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1):]
    return " ".join(ids)


def compose_reminder(config: Config, recipient: str, status: UnitProgress,
                     today: date, upload_link: str | None = None) -> Outgoing:
    """A reminder of what ``status`` still lacks; ``upload_link`` is the unit's upload link
    (a video too big for mail goes there)."""
    context = {
        "upload_link": upload_link,
        "unit": status.name, "campaign": config.campaign.name, "today": _day(today),
        "missing": status.missing, "submissions": status.submissions,
        "documents_ok": status.documents_ok, "videos_ok": status.videos_ok,
        "photos_ok": status.photos_ok, "deadline": _day(config.campaign.deadline),
        "address": config.mailbox.address, "requirements": requirements(config.policy),
        "owed": None, **_voice(config, today),
    }
    subject = f"【提醒】{config.campaign.name}材料尚缺：{'、'.join(status.missing)}"
    ident = reminder_id(status.name, recipient, today)
    return _build(config, ident, recipient, subject, "reminder", context, "auto-generated", {})


def compose_owed_reminder(config: Config, recipient: str, key: str, name: str,
                          owed: list[dict[str, Any]], today: date,
                          upload_link: str | None = None) -> Outgoing:
    """The reminder of a unit (or group, keyed ``key``) per deliverable: each one still owed
    with its own deadline, an overdue one worded 已逾期; ``upload_link``: the unit's own."""
    context = {"unit": name, "campaign": config.campaign.name, "today": _day(today),
               "owed": owed, "missing": [item["name"] for item in owed],
               "upload_link": upload_link,
               "address": config.mailbox.address, "requirements": requirements(config.policy),
               **_voice(config, today)}
    late = "（已逾期）" if any(item["overdue"] for item in owed) else ""
    subject = f"【提醒】{config.campaign.name}材料尚缺：{'、'.join(context['missing'])}{late}"
    return _build(config, reminder_id(key, recipient, today), recipient, subject, "reminder",
                  context, "auto-generated", {})


@dataclass
class HeldMessage:
    """One message a digest answers: its subject, when it came (local) and its verdicts."""

    subject: str
    received: str
    message_id: str | None
    verdicts: list[dict[str, Any]]
    too_large: bool = False


def digest_id(unit: str | None, recipient: str, until: str, first: int) -> str:
    """The digest of ``recipient``'s window ending ``until``, from its first held message:
    two pollers composing the same digest give it the same id, so it is queued once."""
    digest = hashlib.sha256(f"{unit}\n{recipient.lower()}\n{until}".encode()).hexdigest()[:16]
    return f"digest-{digest}-{first}"


def compose_digest(config: Config, ident: str, recipient: str, unit: str | None,
                   held: list[HeldMessage], missing: list[str], since: str,
                   until: str, upload_link: str | None = None) -> Outgoing:
    """One reply answering every message ``recipient`` sent over the rate limit within a
    window (``since`` to ``until``, local times): each message's files and verdicts, then
    what the unit still lacks as of now. It stays small: past ``MAX_DIGEST_MESSAGES``
    messages, and files beyond ``MAX_REPLY_BYTES``, are counted, not listed."""
    context: dict[str, Any] = {
        "greeting": unit or recipient, "campaign": config.campaign.name, "unit": unit,
        "since": since, "until": until, "missing": missing,
        "limit": {"count": config.mailbox.reply_rate_limit.count,
                  "hours": f"{config.mailbox.reply_rate_limit.hours:g}"},
        "deadline": _day(config.campaign.deadline), "requirements": requirements(config.policy),
        "address": config.mailbox.address, "upload_link": upload_link, **_voice(config)}
    subject = f"【汇总回复】{config.campaign.name}：您发来的 {len(held)} 封邮件的检查结果"
    context["subject"] = subject
    ids = [item.message_id for item in held if item.message_id]
    extra = {"In-Reply-To": ids[-1] if ids else "",
             "References": _references(" ".join(ids[:-1]), ids[-1] if ids else None)}
    shown, listed = min(len(held), MAX_DIGEST_MESSAGES), MAX_LISTED_FILES
    while True:  # fewer files per message, then fewer messages, until it fits
        context["messages"] = [_held(item, listed) for item in held[:shown]]
        context["more"] = len(held) - shown  # counted, not listed
        outgoing = _build(config, ident, recipient, subject, "digest", context,
                          "auto-replied", extra)
        if len(outgoing.data) <= MAX_REPLY_BYTES or (shown <= 1 and not listed):
            return outgoing
        if listed:
            listed //= 2
        else:
            shown //= 2


def _held(item: HeldMessage, listed: int) -> dict[str, Any]:
    files = [file_line(verdict) for verdict in item.verdicts]
    unlisted = files[listed:]
    return {"subject": cut(item.subject, MAX_SUBJECT) or "（无主题）", "received": item.received,
            "too_large": item.too_large, "files": files[:listed],
            "unlisted": unlisted and {"count": len(unlisted),
                                      "ok": sum(1 for line in unlisted if line.ok)}}


def decision_id(decision: int, recipient: str) -> str:
    digest = hashlib.sha256(recipient.encode()).hexdigest()[:16]
    return f"decision-{decision}-{digest}"


def compose_decision_notice(config: Config, recipient: str, unit: str, what: str,
                            decision: Any, upload_link: str | None = None) -> Outgoing:
    """The short reply of ``--notify``: what a coordinator decided, and why; with the unit's
    upload link, for a file sent again after a rejection."""
    context = {"unit": unit, "campaign": config.campaign.name, "what": what,
               "reason": decision.reason, "address": config.mailbox.address,
               "upload_link": upload_link, **_voice(config)}
    subject = f"【通知】{config.campaign.name}：{what}"[:200]
    return _build(config, decision_id(decision.id, recipient), recipient, subject, "decision",
                  context, "auto-generated", {})


def _voice(config: Config, today: date | None = None) -> dict[str, Any]:
    """The bureau's voice in every reply: its office's signature and contact, and whether
    the deadline has passed (then the wording asks for a late submission, 补报)."""
    today = today or now_in(config.campaign.timezone).date()
    return {"signature": config.campaign.office, "contact": config.campaign.contact,
            "overdue": today > config.campaign.deadline}


def _build(config: Config, ident: str, recipient: str, subject: str, template: str,
           context: dict[str, Any], auto: str, extra: dict[str, str]) -> Outgoing:
    domain = config.mailbox.address.rsplit("@", 1)[-1]
    headers = {
        "From": formataddr((config.campaign.office, config.mailbox.address), charset="utf-8"),
        "To": recipient,
        "Subject": subject,
        "Date": format_datetime(now_in(config.campaign.timezone).replace(microsecond=0)),
        "Message-ID": f"<{ident}@{domain}>",
        **{name: value for name, value in extra.items() if value},
        "Auto-Submitted": auto,
        # Ask Exchange and friends not to send their own auto-replies back to us.
        "X-Auto-Response-Suppress": "All",
    }
    kept = ("From", "To", "Subject", "Message-ID", "In-Reply-To", "References",
            "Auto-Submitted")
    folder = config.mailbox.templates_dir
    environment = _environment(folder and config.resolve(folder))
    bodies = [("plain", environment.get_template(f"{template}.txt.j2").render(context)),
              ("html", environment.get_template(f"{template}.html.j2").render(context))]
    return Outgoing(ident, recipient, {k: v for k, v in headers.items() if k in kept},
                    _mime(headers, bodies, ident))


def _mime(headers: dict[str, str], bodies: list[tuple[str, str]], ident: str) -> bytes:
    """multipart/alternative of UTF-8 base64 text parts, written directly: the same bytes
    the email package's MIME classes produce (RFC 2047 words, lines folded under 78), without
    its generator, whose folding dominated intake time. The boundary is derived from the
    reply id and cannot occur in base64 text."""
    boundary = f"=_sm_{ident}"
    lines = ["Content-Type: multipart/alternative;", f' boundary="{boundary}"',
             "MIME-Version: 1.0"]
    lines += [_fold_header(name, value) for name, value in headers.items()]
    lines.append("")
    for subtype, text in bodies:
        lines += [f"--{boundary}", f'Content-Type: text/{subtype}; charset="utf-8"',
                  "MIME-Version: 1.0", "Content-Transfer-Encoding: base64", "",
                  base64.encodebytes(text.encode("utf-8")).decode("ascii")]
    lines.append(f"--{boundary}--")
    return ("\n".join(lines) + "\n").encode("ascii")


def _fold_header(name: str, value: str) -> str:
    """``Name: value``, non-ASCII as RFC 2047 UTF-8 words, folded at spaces under 78. The
    value is made one line first: a line break in it would start headers of its own."""
    value = one_line(value)
    words = value.split(" ") if value.isascii() else _encoded_words(value)
    lines, line = [], f"{name}:"
    for word in words:
        if len(line) + 1 + len(word) > MAX_LINE and line.strip() != f"{name}:":
            lines.append(line)
            line = ""
        line += f" {word}"
    lines.append(line)
    return "\n".join(lines)


def _encoded_words(value: str) -> list[str]:
    """RFC 2047 base64 words of at most 39 UTF-8 bytes each (64 characters), never cutting a
    character in two."""
    words, chunk = [], b""
    for char in value:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > 39:
            words.append(chunk)
            chunk = b""
        chunk += data
    words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(word).decode('ascii')}?=" for word in words]


def _link(link: CloudLink) -> dict[str, str]:
    return {"name": cut(link.name, MAX_FILE_NAME), "url": cut(link.url, MAX_FIX)}


def _day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"
