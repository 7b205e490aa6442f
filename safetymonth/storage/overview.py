"""Reads for the console that the CLI has no use for, each a query or two whatever the
number of units: unanswered mail per unit (the board), mail credited to no unit, the replies
of a page's messages. Credit is the read-time credit of :mod:`~safetymonth.storage.credit`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import exists, func, literal, select

from safetymonth.storage import store_version
from safetymonth.storage.credit import credit_query, dismissed
from safetymonth.storage.records import (
    ADDED_PREFIX,
    PROCESSED,
    SENT,
    MessageView,
    ReplyRecord,
    message_view,
    reply_record,
)
from safetymonth.storage.schema import messages, meta, replies

if TYPE_CHECKING:
    from safetymonth.storage.repository import Repository

CHUNK = 500  # ids per IN (...), under SQLite's variable limit


class Overview:
    def __init__(self, repository: Repository) -> None:
        self.session = repository.session

    def version(self) -> tuple[object, ...]:
        """A fingerprint of everything the board is computed from: the store's version, which
        the database's triggers bump in every write to messages, checks, decisions and
        replies (:mod:`~safetymonth.storage.store_version`), and the registry's fingerprint.
        One primary-key lookup, whatever the size of the store."""
        return tuple(sorted(self.session.all(
            select(meta.c.key, meta.c.value).where(
                meta.c.key.in_((store_version.KEY, "registry"))))))

    def unanswered(self) -> dict[str, int]:
        """Per unit key, its credited mail that no sent reply answers (queued, refused, held
        for a digest not sent yet, or never to be answered, such as a forged message a
        coordinator credited). Files added by hand (补充文件) are no mail: nobody waits for
        an answer to them. The one definition of 未回复 for the board, ``report`` and the
        clerks' table."""
        # Two lookups, not one EXISTS over an OR: each then uses its index (replies_message,
        # the primary key), where the OR scanned every sent reply for every message.
        replied = exists().where(replies.c.message == messages.c.id, replies.c.state == SENT)
        digested = exists().where(replies.c.id == messages.c.digest, replies.c.state == SENT)
        return {str(unit): int(count) for unit, count in self.session.all(
            select(messages.c.credit_unit, func.count())
            .where(messages.c.credit_unit.is_not(None), ~replied, ~digested,
                   ~messages.c.source_key.startswith(ADDED_PREFIX, autoescape=True))
            .group_by(messages.c.credit_unit))}

    def uncredited(self, limit: int = 500) -> list[MessageView]:
        """Processed mail credited to no unit now (unknown senders, failed authentication,
        machine mail) and not put aside (dismissed), newest first; ``files`` is not
        counted (0)."""
        credit = credit_query()
        return [message_view(row) for row in self.session.all(
            select(messages, credit.c.unit.label("credited_unit"), credit.c.credited_by,
                   literal(0).label("file_count"))
            .select_from(credit.join(messages, messages.c.id == credit.c.message))
            .where(credit.c.unit.is_(None), messages.c.state == PROCESSED, ~dismissed())
            .order_by(messages.c.id.desc()).limit(limit))]

    def uncredited_count(self) -> int:
        """How many messages :meth:`uncredited` lists, all of them: the board's 未计入的邮件
        counts what that page shows, machine mail and forged mail included."""
        return int(self.session.all(
            select(func.count()).select_from(messages)
            .where(messages.c.credit_unit.is_(None), messages.c.state == PROCESSED,
                   ~dismissed()))[0][0])

    def replies_of(self, message_ids: list[int]) -> dict[int, list[ReplyRecord]]:
        """The replies queued for each message, oldest first, with the digest that answered
        a message held by the rate limit."""
        found: dict[int, list[ReplyRecord]] = defaultdict(list)
        for start in range(0, len(message_ids), CHUNK):
            chunk = message_ids[start:start + CHUNK]
            for row in self.session.all(
                    select(replies).where(replies.c.message.in_(chunk))
                    .order_by(replies.c.created_at, replies.c.id)):
                record = reply_record(row)
                if record.message is not None:
                    found[record.message].append(record)
            held = {int(message): str(digest) for message, digest in self.session.all(
                select(messages.c.id, messages.c.digest).where(
                    messages.c.id.in_(chunk), messages.c.digest.is_not(None)))}
            digests = {str(row.id): reply_record(row) for row in self.session.all(
                select(replies).where(replies.c.id.in_(set(held.values()))))}
            for message, digest in held.items():
                found[message].append(digests[digest])
        return found
