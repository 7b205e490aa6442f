"""Reads for the console, each a few queries whatever the number of units: every unit's
tally at once (the board), one unit's messages with their files and replies (its page), one
file by id (downloads). Frozen records as :mod:`~safetymonth.storage.repository` returns them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, exists, func, select

from safetymonth.storage.repository import (
    KIND_COUNTS,
    PROCESSED,
    SENT,
    FileRecord,
    MessageRecord,
    ReplyRecord,
    Repository,
    UnitStatus,
    _file,
    _message,
    _reply,
    _verdicts,
)
from safetymonth.storage.schema import attachments, checks, messages, replies

# A message counts for its unit when processed and not forged (as Repository.unit_status).
_CREDITED = and_(messages.c.unit.is_not(None), messages.c.state == PROCESSED,
                 messages.c.suspicious.is_(None))


class Overview:
    def __init__(self, repository: Repository) -> None:
        self.repository = repository

    def unit_statuses(self, names: Iterable[str]) -> dict[str, UnitStatus]:
        """:meth:`Repository.unit_status` of every unit in ``names``, in two queries."""
        totals = {str(unit): (int(count), last) for unit, count, last in self.repository._all(
            select(messages.c.unit, func.count(), func.max(messages.c.received_at))
            .where(_CREDITED).group_by(messages.c.unit))}
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        for unit, kind, ok, count in self.repository._all(
                select(messages.c.unit, checks.c.kind, checks.c.ok, func.count())
                .select_from(_verdicts()).where(_CREDITED)
                .group_by(messages.c.unit, checks.c.kind, checks.c.ok)):
            attribute = KIND_COUNTS.get((str(kind), bool(ok)))
            if attribute:
                counts[str(unit)][attribute] = counts[str(unit)].get(attribute, 0) + int(count)
        statuses = {}
        for name in names:
            submissions, last = totals.get(name, (0, None))
            statuses[name] = UnitStatus(name=name, submissions=submissions,
                                        last_submission=last, **counts.get(name, {}))
        return statuses

    def unanswered(self) -> dict[str, int]:
        """Per unit, its credited messages that no sent reply answers (queued, refused, or
        held back by the rate limit)."""
        answered = exists().where(replies.c.message == messages.c.id, replies.c.state == SENT)
        return {str(unit): int(count) for unit, count in self.repository._all(
            select(messages.c.unit, func.count()).where(_CREDITED, ~answered)
            .group_by(messages.c.unit))}

    def unit_messages(self, unit: str) -> list[MessageRecord]:
        """Every message credited or claimed to ``unit``, newest first."""
        return [_message(row) for row in self.repository._all(
            select(messages).where(messages.c.unit == unit).order_by(messages.c.id.desc()))]

    def uncredited(self) -> list[MessageRecord]:
        """Processed mail that counts for no unit: unknown senders, forged, machine mail."""
        return [_message(row) for row in self.repository._all(
            select(messages).where(messages.c.state == PROCESSED, messages.c.unit.is_(None)
                                   | messages.c.suspicious.is_not(None))
            .order_by(messages.c.id.desc()))]

    def files_of(self, message_ids: list[int]) -> dict[int, list[FileRecord]]:
        """The attachments of each message, in their order in the mail."""
        found: dict[int, list[FileRecord]] = defaultdict(list)
        for row in self._in(select(attachments), attachments.c.message, message_ids,
                            attachments.c.position):
            record = _file(row)
            found[record.message].append(record)
        return found

    def replies_of(self, message_ids: list[int]) -> dict[int, list[ReplyRecord]]:
        """The replies queued for each message, oldest first."""
        found: dict[int, list[ReplyRecord]] = defaultdict(list)
        for row in self._in(select(replies), replies.c.message, message_ids,
                            replies.c.created_at):
            record = _reply(row)
            if record.message is not None:
                found[record.message].append(record)
        return found

    def file(self, file_id: int) -> FileRecord | None:
        row = self.repository._one(select(attachments).where(attachments.c.id == file_id))
        return _file(row) if row else None

    def files(self, unit: str | None = None) -> list[tuple[FileRecord, MessageRecord]]:
        """Every stored file with its message (of one unit), oldest first."""
        statement = select(attachments, *[column.label(f"m_{column.name}")
                                          for column in messages.c]) \
            .join(messages, messages.c.id == attachments.c.message)
        if unit is not None:
            statement = statement.where(messages.c.unit == unit)
        pairs = []
        for row in self.repository._all(statement.order_by(attachments.c.id)):
            values = dict(row._mapping)
            message = {name[2:]: values.pop(name) for name in list(values)
                       if name.startswith("m_")}
            values["verdicts"] = tuple(json.loads(values.pop("verdict")))
            pairs.append((FileRecord(**values), MessageRecord(**message)))
        return pairs

    def _in(self, statement: Any, column: Any, ids: list[int], order: Any) -> list[Any]:
        """Rows whose ``column`` is one of ``ids``, in chunks under SQLite's variable limit."""
        rows: list[Any] = []
        for start in range(0, len(ids), 500):
            rows.extend(self.repository._all(
                statement.where(column.in_(ids[start:start + 500])).order_by(order)))
        return rows

