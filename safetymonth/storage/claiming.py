"""Work taken by one worker at a time: a message is processed, and a reply handed to a
transport, only by the worker that claimed it; a watching poll holds its source, and a
source's cursor says how far it has read. A dead worker's claims are free again (see
:mod:`safetymonth.storage.claims`)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, or_, select, update

from safetymonth.storage import claims
from safetymonth.storage.errors import SourceHeldError
from safetymonth.storage.hot import hot
from safetymonth.storage.records import QUEUED, RECEIVED, MessageRecord, message_record
from safetymonth.storage.schema import messages, replies, source_cursors, source_locks, workers
from safetymonth.storage.session import Session, dialect_insert, free

_CLAIM = hot(update(messages).where(
    messages.c.id == bindparam("message_"), messages.c.state == RECEIVED,
    free(messages.c.claimed_by)).values(
    claimed_by=bindparam("me"), tries=messages.c.tries + 1).returning(*messages.c))
# A batch of replies claimed in one statement: those it returns are this worker's now.
_CLAIM_REPLIES = update(replies).where(
    replies.c.id.in_(bindparam("replies_", expanding=True)), replies.c.state == QUEUED,
    free(replies.c.claimed_by)).values(claimed_by=bindparam("me")).returning(replies.c.id)
REPLIES_CHUNK = 500  # ids per IN (...), under SQLite's variable limit
_RELEASE_REPLY = update(replies).where(
    replies.c.id == bindparam("reply"), replies.c.state == QUEUED,
    replies.c.claimed_by == bindparam("me")).values(claimed_by=None)


class Claims:
    def __init__(self, session: Session) -> None:
        self.session = session

    def register(self) -> str:
        """Register this process as a worker now (outside any transaction), for its claims."""
        return self.session.owner

    def claim(self, message: int) -> MessageRecord | None:
        """Claim a received message for processing, counting the try (so a message that kills
        its process still fails in the end); returns it, or None when a live worker holds
        it."""
        claimant = self.session.claimant()
        with self.session.transaction():
            row = self.session.execute(_CLAIM, {"message_": message, **claimant}).first()
        return message_record(row) if row else None

    def claim_next(self, max_tries: int,
                   skipping: Iterable[int] = ()) -> MessageRecord | None:
        """Claim the oldest received message that has tries left and no live claim (one left
        half done by a crash, or queued for a retry), or None. PostgreSQL skips rows another
        transaction is claiming; SQLite's write lock lets one process at a time choose."""
        session = self.session
        owner = session.owner
        with session.transaction():
            session.reap(session.host)
            candidate = select(messages.c.id).where(
                messages.c.state == RECEIVED, messages.c.tries < max_tries,
                free(messages.c.claimed_by), messages.c.id.not_in(list(skipping))
            ).order_by(messages.c.id).limit(1)
            if session.dialect == "postgresql":
                candidate = candidate.with_for_update(skip_locked=True)
            row = session.execute(candidate, session.claimant()).first()
            if row is None:
                return None
            claimed = session.execute(update(messages).where(messages.c.id == row.id).values(
                claimed_by=owner, tries=messages.c.tries + 1).returning(*messages.c)).first()
            return message_record(claimed)

    def release(self, message: int) -> None:
        """Give back a message claimed but not worked on (its try not counted)."""
        self.session.write(update(messages).where(
            messages.c.id == message, messages.c.claimed_by == self.session.owner).values(
            claimed_by=None, tries=messages.c.tries - 1))

    def claim_replies(self, *reply_ids: str) -> set[str]:
        """Claim queued replies before handing them to the transport, in one transaction;
        returns those claimed (not the ones sent meanwhile or being sent by a live worker)."""
        claimant = self.session.claimant()
        claimed: set[str] = set()
        with self.session.transaction():
            for start in range(0, len(reply_ids), REPLIES_CHUNK):
                claimed.update(str(row[0]) for row in self.session.execute(_CLAIM_REPLIES, {
                    "replies_": list(reply_ids[start:start + REPLIES_CHUNK]), **claimant}))
        return claimed

    def release_replies(self, *reply_ids: str) -> None:
        """Give back replies claimed but not handed to the transport."""
        if reply_ids:
            with self.session.transaction():
                self.session.execute(_RELEASE_REPLY, [{"reply": reply_id,
                                                       "me": self.session.owner}
                                                      for reply_id in reply_ids])

    # --- sources ----------------------------------------------------------------------

    def hold_source(self, source: str, label: str) -> None:
        """Become the one watcher of ``source``; raises :class:`SourceHeldError` naming the
        live worker that watches it (and the source, as ``label``)."""
        session = self.session
        owner = session.owner
        live = select(workers.c.owner).where(
            workers.c.heartbeat_at >= claims.timestamp(claims.LEASE))
        statement = dialect_insert(session.dialect, source_locks).values(source=source,
                                                                         owner=owner)
        statement = statement.on_conflict_do_update(
            index_elements=["source"], set_={"owner": statement.excluded.owner},
            where=or_(source_locks.c.owner == owner, source_locks.c.owner.not_in(live))
        ).returning(source_locks.c.owner)
        with session.transaction():
            session.reap(session.host)
            if session.execute(statement).first() is not None:
                return
            holder = session.execute(select(workers.c.host, workers.c.pid).join(
                source_locks, source_locks.c.owner == workers.c.owner)
                .where(source_locks.c.source == source)).first()
        host, pid = holder if holder else ("?", 0)
        raise SourceHeldError(str(host), int(pid), label)

    def source_cursor(self, source: str) -> str | None:
        """How far ``source`` has read, as the source itself wrote it."""
        row = self.session.one(select(source_cursors.c.cursor)
                               .where(source_cursors.c.source == source))
        return str(row[0]) if row else None

    def save_source_cursor(self, source: str, cursor: str) -> None:
        self.session.upsert(source_cursors, ["source"], {"source": source, "cursor": cursor})
