"""The outbox in the store: replies, reminders, notices and digests queued, sent or refused,
and the counts the rate limit and the digest are timed by (on the repository's clock)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, select, update

from safetymonth.storage.hot import hot
from safetymonth.storage.records import (
    QUEUED,
    REFUSED,
    SENT,
    MessageRecord,
    ReplyRecord,
    message_record,
    reply_record,
)
from safetymonth.storage.schema import messages, replies
from safetymonth.storage.session import Clock, Session, now

_REPLY = hot(select(replies).where(replies.c.id == bindparam("reply")))
_MARK_SENT = update(replies).where(replies.c.id == bindparam("reply")).values(
    state=SENT, attempts=replies.c.attempts + 1, last_error=None, claimed_by=None)
_REPLIES_SINCE = hot(select(func.count()).where(
    replies.c.recipient == bindparam("to"), replies.c.kind == bindparam("kind_"),
    replies.c.created_at >= bindparam("since")))


class _TakenMeanwhile(Exception):
    """A message a digest would answer is answered already."""


class Replies:
    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock

    def _now(self) -> str:
        return self.clock().astimezone(UTC).isoformat(timespec="seconds")

    def queue_reply(self, reply_id: str, message: int | None, kind: str, unit: str | None,
                    recipient: str, headers: dict[str, str], body: bytes) -> bool:
        """Queue a reply unless one with this id was queued before (then False)."""
        return self.session.insert_ignoring(replies, ["id"], {
            "id": reply_id, "message": message, "kind": kind, "unit": unit,
            "recipient": recipient.lower(), "headers": json.dumps(headers, ensure_ascii=False),
            "body": body, "state": QUEUED, "created_at": self._now()})

    def reply(self, reply_id: str) -> ReplyRecord | None:
        row = self.session.one(_REPLY, {"reply": reply_id})
        return reply_record(row) if row else None

    def queued_replies(self) -> list[ReplyRecord]:
        return [reply_record(row) for row in self.session.all(
            select(replies).where(replies.c.state == QUEUED)
            .order_by(replies.c.created_at, replies.c.id))]

    def queued_reply_count(self) -> int:
        row = self.session.one(select(func.count()).where(replies.c.state == QUEUED))
        return int(row[0]) if row else 0

    def queued_replies_by_unit(self) -> dict[str, int]:
        """Queued replies, reminders, notices and digests per unit (by its key)."""
        return {str(unit): int(count) for unit, count in self.session.all(
            select(replies.c.unit, func.count()).where(
                replies.c.state == QUEUED, replies.c.unit.is_not(None))
            .group_by(replies.c.unit))}

    def replies(self) -> list[ReplyRecord]:
        """Every reply and reminder, oldest first."""
        return [reply_record(row) for row in self.session.all(
            select(replies).order_by(replies.c.created_at, replies.c.id))]

    def mark_sent(self, *reply_ids: str) -> None:
        if not reply_ids:
            return
        sent_at = now()
        with self.session.transaction():
            self.session.execute(_MARK_SENT, [{"reply": reply_id, "sent_at": sent_at}
                                              for reply_id in reply_ids])

    def mark_attempt_failed(self, reply_id: str, error: str, permanent: bool = False) -> None:
        self.session.write(update(replies).where(replies.c.id == reply_id).values(
            attempts=replies.c.attempts + 1, last_error=error[:2000], claimed_by=None,
            state=REFUSED if permanent else QUEUED))

    def replies_since(self, recipient: str, kind: str, hours: float) -> int:
        since = (self.clock() - timedelta(hours=hours)).astimezone(UTC).isoformat(
            timespec="seconds")
        row = self.session.one(_REPLIES_SINCE, {"to": recipient.lower(), "kind_": kind,
                                                "since": since})
        return int(row[0]) if row else 0

    def rate_window_end(self, recipient: str, kind: str, hours: float, count: int) -> str:
        """When ``recipient``, who got ``count`` replies of ``kind`` within ``hours``, falls
        under the limit again: the ``count``-th latest of them leaves the window then."""
        row = self.session.one(select(replies.c.created_at).where(
            replies.c.recipient == recipient.lower(), replies.c.kind == kind)
            .order_by(replies.c.created_at.desc()).offset(count - 1).limit(1))
        start = datetime.fromisoformat(row[0]) if row else self.clock()
        return (start + timedelta(hours=hours)).astimezone(UTC).isoformat(timespec="seconds")

    def last_reply_at(self, unit: str, kind: str) -> str | None:
        row = self.session.one(select(func.max(replies.c.created_at)).where(
            replies.c.unit == unit, replies.c.kind == kind))
        return row[0] if row else None

    # --- digests ----------------------------------------------------------------------

    def due_digests(self) -> list[MessageRecord]:
        """Held messages whose window has ended and that no digest answers yet, by id."""
        return [message_record(row) for row in self.session.all(
            select(messages).where(messages.c.held_until.is_not(None),
                                   messages.c.digest.is_(None),
                                   messages.c.held_until <= self._now())
            .order_by(messages.c.id))]

    def next_digest_due(self) -> datetime | None:
        """When the earliest window of a held message still unanswered ends."""
        row = self.session.one(select(func.min(messages.c.held_until)).where(
            messages.c.held_until.is_not(None), messages.c.digest.is_(None),
            messages.c.sender.is_not(None)))
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def queue_digest(self, reply_id: str, unit: str | None, recipient: str,
                     headers: dict[str, str], body: bytes, held: Sequence[int]) -> bool:
        """Queue the digest answering the ``held`` messages, exactly once: False (and
        nothing queued) when its id was queued before or any of them is answered already,
        by another poller meanwhile (its next pass composes from what is left)."""
        try:
            with self.session.transaction():
                if not self.queue_reply(reply_id, None, "digest", unit, recipient, headers,
                                        body):
                    return False
                answered = self.session.execute(update(messages).where(
                    messages.c.id.in_(list(held)), messages.c.digest.is_(None))
                    .values(digest=reply_id)).rowcount
                if answered != len(held):
                    raise _TakenMeanwhile
        except _TakenMeanwhile:
            return False
        return True
