"""What the pages show, built from the repository: plain dataclasses the templates read.
No HTML here and no SQL: credit, tallies and files come from the decisions' read-time credit
(:mod:`~safetymonth.storage.credit`), the rest from :class:`~safetymonth.storage.overview.
Overview`."""

from __future__ import annotations

import email
import email.policy
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from email.message import EmailMessage
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from safetymonth import decisions
from safetymonth.config import Config, Unit
from safetymonth.deliverables import Deliverable
from safetymonth.owed import Owed, Standing
from safetymonth.owed_tables import owed_label  # noqa: F401 (the templates' views.owed_label)
from safetymonth.reasons import reason_label  # noqa: F401 (the templates' views.reason_label)
from safetymonth.report import (
    UnitProgress,
    by_deliverables,
    judge,
    local_time,
    progress_of_all,
    report_from_repository,
)
from safetymonth.storage.credit import DecisionRecord, FileView, MessageView
from safetymonth.storage.overview import Overview
from safetymonth.storage.repository import SENT, FileRecord, ReplyRecord, Repository
from safetymonth.validator.formats import registry

T = TypeVar("T")
STATUS_LABELS = {"complete": "已齐全", "incomplete": "未齐全", "nothing": "未提交"}
KIND_LABELS = decisions.KIND_LABELS
ACTION_LABELS = decisions.ACTION_LABELS


def zone(config: Config) -> str:
    return config.campaign.timezone


def find_unit(config: Config, ident: str) -> Unit | None:
    """The unit whose id or name is ``ident``."""
    try:
        return decisions.find_unit(config, ident)
    except decisions.DecisionError:
        return None


def inline_type(view: FileView) -> str | None:
    """The content type a browser may show ``view`` as: only a photo whose format registered
    one (JPEG, PNG); None for everything else, which is only ever downloaded."""
    if view.kind != "photo":
        return None
    return registry.content_type(view.verdict.get("format"))


def is_photo(view: FileView) -> bool:
    """A photo a browser may show (``inline_type``)."""
    return inline_type(view) is not None


# --- the board ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    id: str
    name: str
    status: str
    missing: tuple[str, ...]  # a tuple: rows are hashable, so a row's HTML can be reused
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
    uncredited: int
    counts: dict[str, int] = field(default_factory=dict)


class StoreCache:
    """Results computed from the whole store (the board, the report), each reused while the
    store's :meth:`Overview.version` is the same, and the day too (a deliverable turns
    overdue at midnight without a write). Every request reads the version, so nothing shown
    is ever stale; one cache per process, so replicas need no coordination."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[tuple[object, ...], Any]] = {}

    def get(self, repository: Repository, name: str, compute: Callable[[], T],
            day: object = None) -> T:
        version = (*Overview(repository).version(), day)
        entry = self._entries.get(name)
        if entry is not None and entry[0] == version:
            return entry[1]  # type: ignore[no-any-return]
        value = compute()
        self._entries[name] = (version, value)
        return value

    def board(self, repository: Repository, config: Config) -> Board:
        return self.get(repository, "board", lambda: board(repository, config),
                        today(config))

    def report(self, repository: Repository, config: Config) -> dict[str, Any]:
        return self.get(repository, "report",
                        lambda: report_from_repository(repository, config), today(config))


def today(config: Config) -> object:
    """The campaign's local day: what makes a deliverable overdue without a write."""
    return datetime.now(ZoneInfo(config.campaign.timezone)).date()


def status_of(progress: UnitProgress) -> str:
    if progress.submissions == 0:
        return "nothing"
    return "complete" if progress.complete else "incomplete"


def board(repository: Repository, config: Config) -> Board:
    unanswered = Overview(repository).unanswered()
    rows = [BoardRow(
        id=progress.id, name=progress.name, status=status_of(progress),
        missing=tuple(progress.missing),
        passed=progress.documents_ok + progress.photos_ok + progress.videos_ok,
        failed=progress.documents_failed + progress.photos_failed + progress.videos_failed,
        last_submission=local_time(progress.last_submission, zone(config)),
        unanswered=unanswered.get(progress.id, 0))
        for progress in progress_of_all(repository, config)]
    counts = {status: sum(row.status == status for row in rows) for status in STATUS_LABELS}
    return Board(rows, Overview(repository).uncredited_count(), counts)


def deadline_end(config: Config) -> str:
    """The last second of the deadline day in the campaign's time zone, as ISO 8601 with its
    offset: the countdown in the browser counts to that instant, whatever the zone of the
    clerk's PC."""
    end = datetime.combine(config.campaign.deadline, time(23, 59, 59),
                           ZoneInfo(zone(config)))
    return end.isoformat()


def days_left(config: Config) -> int:
    """Days from today (in the campaign's time zone) to the deadline; negative after it."""
    return (config.campaign.deadline - datetime.now(ZoneInfo(zone(config))).date()).days


# --- a unit's page --------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageItem:
    record: MessageView
    received: str
    files: list[FileView]
    replies: list[ReplyRecord]

    @property
    def answered(self) -> bool:
        return any(reply.state == SENT for reply in self.replies)


@dataclass(frozen=True)
class UnitPage:
    unit: Unit
    status: str
    progress: UnitProgress
    messages: list[MessageItem]
    history: list[DecisionRecord]
    files_named: dict[int, str] = field(default_factory=dict)  # the history's files
    owed: list[Owed] = field(default_factory=list)  # the unit's deliverables, as they stand
    deliverables: list[Deliverable] = field(default_factory=list)  # the campaign's
    counted: dict[int, str | None] = field(default_factory=dict)  # file → its deliverable


def unit_page(repository: Repository, config: Config, unit: Unit) -> UnitPage:
    progress = judge(unit, repository.unit_tally(unit.key), config.campaign.completion)
    standing = Standing(repository, config)
    if config.campaign.deliverables is not None:
        progress = by_deliverables(progress, standing)
    files: dict[int, list[FileView]] = defaultdict(list)
    views = repository.file_views(unit.key)
    for view in views:
        files[view.message].append(view)
    records = list(reversed(repository.message_views(unit.key)))
    replies = Overview(repository).replies_of([record.id for record in records])
    items = [MessageItem(record, local_time(record.received, zone(config)),
                         files.get(record.id, []), replies.get(record.id, []))
             for record in records]
    history = [record for record in repository.decisions() if record.unit == unit.key]
    page = UnitPage(unit, status_of(progress), progress, items, list(reversed(history)),
                    decisions.file_names(repository, history))
    if config.campaign.deliverables is None:
        return page  # completion's shorthand: the page the unit always had
    return replace(page, owed=standing.of_unit(unit.key), deliverables=standing.deliverables,
                   counted=repository.file_deliverables([view.id for view in views]))


# --- mail credited to no unit ---------------------------------------------------------------


@dataclass(frozen=True)
class Stranger:
    record: MessageView
    received: str
    attachments: list[FileRecord]


def uncredited(repository: Repository, config: Config) -> list[Stranger]:
    return [Stranger(record, local_time(record.received, zone(config)),
                     repository.attachments(record.id))
            for record in Overview(repository).uncredited(limit=200)]


# --- history --------------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    records: list[DecisionRecord]
    files_named: dict[int, str]  # the name of each file a decision is about, by id


def history(repository: Repository, action: str = "", unit: str = "") -> History:
    """Every decision, newest first; ``action`` and ``unit`` (a key) filter."""
    records = [record for record in reversed(repository.decisions())
               if (not action or record.action == action) and (not unit or record.unit == unit)]
    return History(records, decisions.file_names(repository, records))


def reply_text(reply: ReplyRecord) -> str:
    """The plain-text part of a queued or sent reply (it is stored as the whole MIME
    message), for showing under its message."""
    message = email.message_from_bytes(reply.body, policy=email.policy.default)
    part = message.get_body(("plain",)) if isinstance(message, EmailMessage) else None
    return str(part.get_content()) if part is not None else ""
