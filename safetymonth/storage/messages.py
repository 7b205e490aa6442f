"""Messages in the store: intake records each one exactly once, with its files and
verdicts and its outcome; the report reads them back.

Several processes, exactly once. Recording is a constraint, not a check followed by an insert:
a message's source key, its hash and its content digest (no trace fields) are each a unique key,
so two processes recording one message collide and one of them finds the other's record.
A write that changes what the credit rule reads (a message's state, authentication or machine
verdict) brings the credit columns along in its transaction (:func:`keeps_credit`).
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Callable
from datetime import UTC
from typing import Any, TypeVar

from sqlalchemy import bindparam, case, func, select, update

from safetymonth.storage.assignment import Assignments
from safetymonth.storage.credit import Credit, content_id, dismissed
from safetymonth.storage.hot import hot
from safetymonth.storage.records import (
    ADDED_PREFIX,
    FAILED,
    PROCESSED,
    RECEIVED,
    TOO_LARGE,
    FileRecord,
    MessageRecord,
    NewAttachment,
    Outcome,
    Received,
    Recorded,
    domain_of,
    file_record,
    message_record,
)
from safetymonth.storage.schema import (
    attachments,
    checks,
    message_contents,
    message_digests,
    messages,
    source_keys,
)
from safetymonth.storage.session import Clock, Session, dialect_insert, free, now

# Intake runs these for every message. Built once, with their values bound at execution, each
# is keyed and compiled once per dialect (SQLAlchemy's compiled cache) instead of being built,
# keyed and compiled again per call. A bound name never equals a column the statement sets:
# those are reserved for the SET clause.
_MESSAGE = select(messages).where(messages.c.id == bindparam("message_"))
_MESSAGE_FOR_KEY = select(messages).join(source_keys, source_keys.c.message == messages.c.id) \
    .where(source_keys.c.key == bindparam("key_"))
# The messages of many keys at once (a run's pending list): one statement per KEYS_CHUNK.
_MESSAGES_FOR_KEYS = select(source_keys.c.key.label("key_"), messages) \
    .join(source_keys, source_keys.c.message == messages.c.id) \
    .where(source_keys.c.key.in_(bindparam("keys_", expanding=True)))
KEYS_CHUNK = 500  # keys per IN (...), under SQLite's variable limit
_MESSAGE_OF_KEY = hot(select(source_keys.c.message)
                      .where(source_keys.c.key == bindparam("key_")))
_MESSAGE_OF_DIGEST = select(message_digests.c.message) \
    .where(message_digests.c.sha256 == bindparam("digest"))
_MESSAGE_OF_CONTENT = select(message_contents.c.message) \
    .where(message_contents.c.content == bindparam("content_"))
# The earliest message with a Message-ID, evaluated as a new message is inserted.
_REUSED = select(func.min(messages.c.id)).where(
    messages.c.message_id == bindparam("reused_id")).scalar_subquery()
_UPDATE_MESSAGE = hot(update(messages).where(messages.c.id == bindparam("message_")))
_ATTACHMENTS_OF = select(attachments).where(attachments.c.message == bindparam("message_")) \
    .order_by(attachments.c.position)
_DELETE_CHECKS = hot(checks.delete().where(checks.c.attachment.in_(
    select(attachments.c.id).where(attachments.c.message == bindparam("message_")))))
_DELETE_ATTACHMENTS = hot(attachments.delete().where(
    attachments.c.message == bindparam("message_")))
# One INSERT for every file of a message; the ids come back in the files' order.
_INSERT_ATTACHMENTS = attachments.insert().returning(attachments.c.id,
                                                     sort_by_parameter_order=True)
_INSERT_CHECKS = checks.insert()


@functools.cache
def _inserting_message(dialect: str) -> Any:
    """INSERT a message unless its source key is taken, returning its id, with ``reuses``
    set in the same statement to the earliest message with its Message-ID (bound as
    ``reused_id``): a new message costs no extra lookup."""
    statement = dialect_insert(dialect, messages).values(reuses=_REUSED)
    return hot(statement.on_conflict_do_nothing(index_elements=["source_key"])
               .returning(messages.c.id))


Write = TypeVar("Write", bound=Callable[..., Any])


class Unknown(enum.Enum):
    """Not given (a subject may itself be None)."""

    UNKNOWN = "unknown"


UNKNOWN = Unknown.UNKNOWN


def keeps_credit(method: Write) -> Write:
    """For a write on one message (its first argument) that changes what the credit rule
    reads (its state, authentication, machine verdict): the credit columns follow in the
    same transaction."""
    @functools.wraps(method)
    def write(self: Messages, message: int, *args: Any, **kwargs: Any) -> Any:
        with self.session.transaction():
            result = method(self, message, *args, **kwargs)
            self.credit.refresh_credit(message)
            return result
    return write  # type: ignore[return-value]


class TakenMeanwhile(Exception):
    """One of a new record's unique keys is taken: it is recorded already."""


class Messages:
    def __init__(self, session: Session, credit: Credit,
                 assignments: Assignments, clock: Clock | None = None) -> None:
        self.session = session
        self.credit = credit
        self.assignments = assignments
        # When a message is received (``received_at``): the repository's clock, so that a
        # test can deliver mail before or after a deliverable's deadline.
        self.clock = clock

    # --- intake -----------------------------------------------------------------------

    def message(self, message: int) -> MessageRecord | None:
        row = self.session.one(_MESSAGE, {"message_": message})
        return message_record(row) if row else None

    def message_for_key(self, key: str) -> MessageRecord | None:
        row = self.session.one(_MESSAGE_FOR_KEY, {"key_": key})
        return message_record(row) if row else None

    def messages_for_keys(self, keys: list[str]) -> dict[str, MessageRecord]:
        """The record of each of ``keys`` that has one, by key: what
        :meth:`message_for_key` says for each, in one statement per few hundred keys."""
        found: dict[str, MessageRecord] = {}
        for start in range(0, len(keys), KEYS_CHUNK):
            for row in self.session.all(_MESSAGES_FOR_KEYS,
                                        {"keys_": keys[start:start + KEYS_CHUNK]}):
                values = dict(row._mapping)
                key = values.pop("key_")
                found[key] = MessageRecord(**values)
        return found

    def find_duplicate(self, sha256: str, content: str | None = None) -> int | None:
        """A message already recorded: the same bytes, or the same content (the message
        without its trace fields). The same Message-ID alone is no duplicate."""
        row = self.session.one(_MESSAGE_OF_DIGEST, {"digest": sha256})
        if row is None and content:
            row = self.session.one(_MESSAGE_OF_CONTENT, {"content_": content})
        return int(row[0]) if row else None

    def record_received(self, key: str, received: Received) -> Recorded:
        """Record a newly stored raw message under its source key, claimed by this worker.
        A message already recorded (the same key, bytes or content, perhaps by another process
        a moment ago) is not recorded again: its record is
        returned, and ``key`` becomes another of its keys. A new message with the Message-ID
        of an earlier one notes it (``reuses``)."""
        with self.session.transaction():
            # Inserted first and looked up only on a conflict: a new message (nearly every
            # one) costs no lookups, and a known one is found by the key it collided on.
            try:
                with self.session.conn.begin_nested():  # undone whole if a key is taken
                    message = self._insert_message(key, received)
            except TakenMeanwhile:
                known = self._known(key, received)
                assert known is not None
                return known
        return Recorded(message, new=True)

    def _known(self, key: str, received: Received) -> Recorded | None:
        row = self.session.execute(_MESSAGE_OF_KEY, {"key_": key}).first()
        if row is not None:
            return Recorded(int(row[0]), new=False)
        duplicate = self.find_duplicate(received.sha256, received.content)
        if duplicate is None:
            return None
        self.add_source_key(key, duplicate)
        return Recorded(duplicate, new=False, duplicate=True)

    def _now(self) -> str:
        if self.clock is None:
            return now()
        return self.clock().astimezone(UTC).isoformat(timespec="seconds")

    def _insert_message(self, key: str, received: Received) -> int:
        """INSERT the message and each of its unique keys, or raise :class:`TakenMeanwhile`
        when one of them is taken (by a record of this message, or another transaction's)."""
        row = self.session.execute(_inserting_message(self.session.dialect), dict(
            reused_id=received.message_id,
            source_key=key, received_at=self._now(), message_id=received.message_id,
            sha256=received.sha256, size=received.size, sender=received.sender,
            sender_name=received.sender_name, sender_domain=domain_of(received.sender),
            subject=received.subject, date_header=received.date_header, state=received.state,
            last_error=received.last_error, claimed_by=self.session.owner)).first()
        if row is None:
            raise TakenMeanwhile
        message = int(row[0])
        keys = [(message_digests, ["sha256"], {"sha256": received.sha256}),
                (message_contents, ["content"], {"content": received.content or received.sha256}),
                (source_keys, ["key"], {"key": key, "seen_at": now()})]
        for table, columns, values in keys:
            if not self.session.insert_ignoring(table, columns, {**values, "message": message}):
                raise TakenMeanwhile
        return message

    def add_source_key(self, key: str, message: int) -> None:
        """Another source key (folder, re-delivery, new UIDVALIDITY) for a known message."""
        self.session.insert_ignoring(source_keys, ["key"],
                                     {"key": key, "message": message, "seen_at": now()})

    def source_keys(self, message: int) -> list[str]:
        """Every key the message was seen under, in order."""
        return [str(row[0]) for row in self.session.all(
            select(source_keys.c.key).where(source_keys.c.message == message)
            .order_by(source_keys.c.key))]

    def fail_try(self, message: int, error: str, max_tries: int) -> str:
        """Record the error; past ``max_tries`` the message is marked failed. Returns state."""
        self.session.write(update(messages).where(messages.c.id == message).values(
            last_error=error[:2000], claimed_by=None,
            state=case((messages.c.tries >= max_tries, FAILED), else_=messages.c.state)))
        record = self.message(message)
        assert record is not None
        return record.state

    def give_up(self, max_tries: int) -> list[MessageRecord]:
        """Messages whose tries ran out while their process was dying: mark them failed."""
        stale = (messages.c.state == RECEIVED) & (messages.c.tries >= max_tries) & \
            free(messages.c.claimed_by)
        claimant = self.session.claimant()
        with self.session.transaction():
            rows = self.session.execute(select(messages).where(stale), claimant).all()
            self.session.execute(update(messages).where(stale).values(
                state=FAILED, last_error=func.coalesce(
                    messages.c.last_error, "the process stopped while handling this message")),
                claimant)
        return [message_record(row) for row in rows]

    def retry_failed(self) -> int:
        """Put failed messages back in the queue (``poll --retry-failed``)."""
        return self.session.write(update(messages).where(messages.c.state == FAILED)
                                  .values(state=RECEIVED, tries=0))

    @keeps_credit
    def restart(self, message: int) -> None:
        """Process a message again from its stored raw copy (its files were lost)."""
        self.session.write(update(messages).where(messages.c.id == message)
                           .values(state=RECEIVED, tries=0))

    @keeps_credit
    def replace_raw(self, message: int, sha256: str, size: int,
                    content: str | None = None) -> None:
        """A message recorded from its header only is now stored whole: process it."""
        with self.session.transaction():
            self.session.execute(update(messages).where(messages.c.id == message).values(
                sha256=sha256, size=size, state=RECEIVED, tries=0, last_error=None))
            self.session.insert_ignoring(message_digests, ["sha256"],
                                         {"sha256": sha256, "message": message})
            if content:
                self.session.insert_ignoring(message_contents, ["content"],
                                             {"content": content, "message": message})

    def record_verdicts(self, message: int, files: list[NewAttachment],
                        subject: str | Unknown | None = UNKNOWN) -> None:
        """The message's attachments, their verdicts and one check row per verdict
        (replacing whatever an earlier, interrupted try recorded for the message), each
        check with the deliverable it counts for. ``subject``: the message's stored subject
        when the caller has its record (intake), which spares reading it back."""
        with self.session.transaction():
            self.session.execute(_DELETE_CHECKS, {"message_": message})
            self.session.execute(_DELETE_ATTACHMENTS, {"message_": message})
            if not files:
                return
            ids = self.session.execute(_INSERT_ATTACHMENTS, [dict(
                message=message, position=item.position, name=item.name,
                stored_name=item.stored_name, sha256=item.sha256, size=item.size,
                content_type=item.content_type,
                verdict=json.dumps(item.verdicts, ensure_ascii=False)) for item in files]).all()
            if isinstance(subject, Unknown) and any(item.verdicts for item in files):
                subject = self.assignments.subject(message)
            rule = self.assignments.rule
            rows = [{"attachment": int(attachment), "path": verdict["path"],
                     "kind": verdict["kind"], "ok": int(bool(verdict["ok"])),
                     "message": message, "member": verdict.get("member"),
                     "content": content_id(item.sha256, item.name, verdict["path"],
                                           _shared_name(item.verdicts, verdict)),
                     "deliverable": rule(verdict["kind"], verdict["path"], subject)}
                    for (attachment,), item in zip(ids, files, strict=True)
                    for verdict in item.verdicts]
            if rows:
                self.session.execute(_INSERT_CHECKS, rows)
                self.assignments.assign_new_files(message)

    @keeps_credit
    def record_outcome(self, message: int, outcome: Outcome) -> None:
        """Whose submission it is, why no reply, and the message's final state."""
        self.session.write(_UPDATE_MESSAGE, dict(
            message_=message, state=outcome.state, unit=outcome.unit, auth=outcome.auth,
            claimed_by=None, suspicious=outcome.suspicious, not_credited=outcome.not_credited,
            no_reply=outcome.no_reply, last_error=outcome.last_error,
            held_until=outcome.held_until,
            notes=json.dumps(outcome.notes, ensure_ascii=False)))

    def attachments(self, message: int) -> list[FileRecord]:
        return [file_record(row) for row in self.session.all(_ATTACHMENTS_OF,
                                                              {"message_": message})]

    def record_added_message(self, key: str, sha256: str, subject: str, at: str,
                             prefix: str = ADDED_PREFIX) -> int:
        """The record that holds files a coordinator added by hand, or a unit uploaded
        through its link (``prefix`` UPLOAD_PREFIX): no raw message."""
        with self.session.transaction():
            result = self.session.execute(messages.insert().values(
                source_key=prefix + key, sha256=sha256, size=0, subject=subject,
                received_at=at, state=PROCESSED))
            return int(result.inserted_primary_key[0])

    # --- the report -------------------------------------------------------------------

    def messages(self) -> list[MessageRecord]:
        """Every message, oldest first."""
        return [message_record(row) for row in self.session.all(
            select(messages).order_by(messages.c.id))]

    def message_by_message_id(self, message_id: str) -> int | None:
        row = self.session.one(select(messages.c.id).where(messages.c.message_id == message_id)
                               .order_by(messages.c.id).limit(1))
        return int(row[0]) if row else None

    def suspicious_messages(self) -> list[MessageRecord]:
        return self.where(messages.c.suspicious.is_not(None))

    def machine_messages(self) -> list[MessageRecord]:
        """Messages a machine wrote (RFC 3834), credited to no unit."""
        return self.where(messages.c.not_credited.is_not(None))

    def unanswered_messages(self) -> list[MessageRecord]:
        """Messages that got no reply, each with why (``no_reply``); a held one only until
        its digest is queued."""
        return self.where(messages.c.no_reply.is_not(None) & messages.c.digest.is_(None))

    def failed_messages(self) -> list[MessageRecord]:
        """Failed for good, or too large to take in."""
        return self.where(messages.c.state.in_((FAILED, TOO_LARGE)))

    def bounce_reports(self) -> list[MessageRecord]:
        """Delivery-status reports in which intake found bounces of our own mail."""
        return self.where(messages.c.notes.like('%"bounces"%'))

    def cloud_link_messages(self) -> list[MessageRecord]:
        """Mail holding cloud-attachment links (超大附件, 中转站) that no coordinator put aside
        (a dismiss decision, not undone): the coordinators' list of links to fetch."""
        return self.where(messages.c.notes.like('%"cloud_expires"%') & ~dismissed())

    def where(self, condition: Any) -> list[MessageRecord]:
        """The messages ``condition`` (on the ``messages`` table) selects, by id."""
        return [message_record(row) for row in self.session.all(
            select(messages).where(condition).order_by(messages.c.id))]


def _shared_name(verdicts: list[dict[str, Any]], verdict: dict[str, Any]) -> int | None:
    """A zip member's index when another member of its zip has the same name (its content is
    then told apart by position: see :func:`~safetymonth.storage.credit.content_id`)."""
    if verdict.get("member") is None:
        return None
    same = sum(1 for other in verdicts if other["path"] == verdict["path"])
    return verdict["member"] if same > 1 else None
