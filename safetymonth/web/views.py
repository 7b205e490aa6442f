"""What the pages show, built from the repository: plain dataclasses the templates read.
No HTML here and no SQL: rows come from :class:`~safetymonth.storage.overview.Overview`."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from safetymonth.config import Config, Unit
from safetymonth.report import UnitProgress, judge, unit_id
from safetymonth.storage.overview import Overview
from safetymonth.storage.repository import (
    SENT,
    FileRecord,
    MessageRecord,
    ReplyRecord,
    Repository,
)

STATUS_LABELS = {"complete": "已齐全", "incomplete": "未齐全", "nothing": "未提交"}
PHOTO_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


def local_time(stamp: str | None, config: Config) -> str:
    """A stored UTC time as the bureau reads it (``campaign.timezone``, else Beijing time)."""
    if not stamp:
        return ""
    zone = ZoneInfo(str(getattr(config.campaign, "timezone", None) or "Asia/Shanghai"))
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def find_unit(config: Config, ident: str) -> Unit | None:
    """The unit whose id (or, without one, name) is ``ident``."""
    return next((unit for unit in config.units if unit_id(unit) == ident), None)


# --- the board ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    id: str
    name: str
    status: str
    missing: list[str]
    passed: int
    failed: int
    last_submission: str
    unanswered: int

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class Board:
    rows: list[BoardRow]
    deadline: date
    days_left: int
    uncredited: int
    counts: dict[str, int] = field(default_factory=dict)


def status_of(progress: UnitProgress) -> str:
    if progress.submissions == 0:
        return "nothing"
    return "complete" if progress.complete else "incomplete"


def board(repository: Repository, config: Config, today: date | None = None) -> Board:
    overview = Overview(repository)
    statuses = overview.unit_statuses(unit.name for unit in config.units)
    unanswered = overview.unanswered()
    rows = []
    for unit in config.units:
        progress = judge(statuses[unit.name], config.campaign.completion)
        rows.append(BoardRow(
            id=unit_id(unit), name=unit.name, status=status_of(progress),
            missing=progress.missing,
            passed=progress.documents_ok + progress.photos_ok + progress.videos_ok,
            failed=progress.documents_failed + progress.photos_failed + progress.videos_failed,
            last_submission=local_time(progress.last_submission, config),
            unanswered=unanswered.get(unit.name, 0)))
    counts = {status: sum(row.status == status for row in rows) for status in STATUS_LABELS}
    today = today or datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return Board(rows, config.campaign.deadline, (config.campaign.deadline - today).days,
                 len(overview.uncredited()), counts)


# --- a unit's page --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileView:
    id: int
    name: str
    size: int
    kind: str
    format: str | None
    width: int | None
    height: int | None
    ok: bool
    reasons: list[str]
    members: int  # verdicts: more than one for a zip

    @property
    def is_photo(self) -> bool:
        return self.kind == "photo" and self.format in PHOTO_FORMATS


def file_view(record: FileRecord) -> FileView:
    verdicts: tuple[dict[str, Any], ...] = record.verdicts or ({},)
    first = verdicts[0]
    reasons = [f"{verdict.get('path', '')}: {reason['message']}" if len(verdicts) > 1
               else reason["message"]
               for verdict in verdicts for reason in verdict.get("reasons", [])]
    return FileView(
        id=record.id, name=record.name, size=record.size,
        kind="archive" if len(verdicts) > 1 else str(first.get("kind", "other")),
        format=first.get("format"), width=first.get("width"), height=first.get("height"),
        ok=bool(record.verdicts) and all(bool(verdict.get("ok")) for verdict in verdicts),
        reasons=reasons, members=len(record.verdicts))


@dataclass(frozen=True)
class MessageView:
    record: MessageRecord
    received: str
    files: list[FileView]
    replies: list[ReplyRecord]

    @property
    def answered(self) -> bool:
        return any(reply.state == SENT for reply in self.replies)


@dataclass(frozen=True)
class UnitPage:
    id: str
    unit: Unit
    status: str
    progress: UnitProgress
    messages: list[MessageView]


def message_views(repository: Repository, config: Config,
                  records: list[MessageRecord]) -> list[MessageView]:
    overview = Overview(repository)
    ids = [record.id for record in records]
    files, replies = overview.files_of(ids), overview.replies_of(ids)
    return [MessageView(record, local_time(record.received_at, config),
                        [file_view(item) for item in files.get(record.id, [])],
                        replies.get(record.id, [])) for record in records]


def unit_page(repository: Repository, config: Config, unit: Unit) -> UnitPage:
    overview = Overview(repository)
    progress = judge(overview.unit_statuses([unit.name])[unit.name],
                     config.campaign.completion)
    records = overview.unit_messages(unit.name)
    return UnitPage(unit_id(unit), unit, status_of(progress), progress,
                    message_views(repository, config, records))


def reply_text(reply: ReplyRecord) -> str:
    """The plain-text part of a queued or sent reply (it is stored as the whole MIME
    message), for showing under its message."""
    message = email.message_from_bytes(reply.body, policy=email.policy.default)
    part = message.get_body(("plain",)) if isinstance(message, EmailMessage) else None
    return str(part.get_content()) if part is not None else ""
