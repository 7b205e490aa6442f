"""The intake pipeline, one message at a time, in the order the house rules require:

1. store the raw message and commit; 2. parse; 3. validate each attachment (zip members too);
4. record the verdicts; 5. triage it and queue the reply (:mod:`~safetymonth.mailbox.outcome`),
   in the same transaction as 4;
6. only then mark or move the message on the server.

Each step is idempotent: a message seen again (a restart, another folder, a re-delivery, a
new UIDVALIDITY) is recognised by its source key, its hash or its content (the message without
the trace fields a re-delivery changes; :mod:`safetymonth.mailbox.content`). A different
message that reuses an earlier one's Message-ID is a new submission, noted as reusing it.

Durability (see :mod:`safetymonth.storage.repository`): a run works in the repository's batch
mode, where each step's commit survives the process being killed but is not forced to disk,
and calls :meth:`Repository.barrier` right before step 6, the only step that cannot be undone
(messages go in chunks of ``FETCH_CHUNK``; a chunk's files are fsynced in the background while
the next chunk is fetched and processed, and the chunk is marked once they are on disk). A
message the store recorded but the server never saw marked (a crash between the commit and the
mark) is checked for its files before it is marked (:meth:`Repository.intact`); after a power
loss that ate them, it is fetched and stored again.

A machine message (RFC 3834: an auto-reply, a bounce, a list) is recorded and gets no reply,
and it is credited to no unit even when its From is a unit's address: a vacation notice is not
a submission. ``report`` lists it as not credited. A delivery-status report about one of our
own replies or reminders is also kept as a bounce, under the unit whose address bounced.

A message whose recording itself fails (step 1 raises) still gets a record of its key, hash and
size, so its tries are counted like any other failure: it never stays unrecorded for ever.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event

from safetymonth.config import Config, Policy
from safetymonth.mailbox.attachments import Attachment
from safetymonth.mailbox.content import content_digest
from safetymonth.mailbox.outcome import describe, record_triage
from safetymonth.mailbox.parse import ParsedMail, parse, parse_headers
from safetymonth.mailbox.source import Item, Source
from safetymonth.storage.errors import DatabaseError
from safetymonth.storage.repository import (
    FAILED,
    PROCESSED,
    RECEIVED,
    TOO_LARGE,
    MessageRecord,
    NewAttachment,
    Received,
    Repository,
)
from safetymonth.validator import Verdict, check_file, prestart

log = logging.getLogger("safetymonth.intake")

Checker = Callable[[Path, Policy, str | None], list[Verdict]]
DUPLICATE = "duplicate"
ELSEWHERE = "elsewhere"  # claimed by another live process, which processes it
ALREADY_DONE = "already done"  # processed before: by an earlier run or another process
FETCH_CHUNK = 50  # messages recorded between two rounds of server-side marking
RECEIVE_GROUP_BYTES = 8 * 1024 * 1024  # fetched messages recorded in one transaction
# States after which a message needs nothing more from the server. Not a failed one (a retry
# may process it) nor a too-large one (a raised limit lets it in): they stay in the window.
SETTLED = (PROCESSED, DUPLICATE, ALREADY_DONE)
# Hands out a run's listed items a batch at a time (one batch: the whole listing).
Deal = Callable[[list[Item]], Iterator[list[Item]]]


@dataclass
class Stats:
    processed: int = 0
    duplicates: int = 0
    failed: int = 0
    too_large: int = 0
    states: dict[str, int] = field(default_factory=dict)
    replies_left: int = 0  # set by the service: replies still queued after delivery
    disk_full: bool = False  # the run stopped taking messages: storage.dir is full

    def count(self, state: str) -> None:
        self.states[state] = self.states.get(state, 0) + 1
        if state == PROCESSED:
            self.processed += 1
        elif state == DUPLICATE:
            self.duplicates += 1
        elif state == FAILED:
            self.failed += 1
        elif state == TOO_LARGE:
            self.too_large += 1


def store_attachment(store: Repository, attachment: Attachment) -> tuple[str, str, int]:
    """Decode one attachment into the store: (sha256, stored name, size). Intake and
    ``verify --repair`` both derive a stored file this way, so a repair is byte-identical."""
    try:  # decoded in chunks, straight from the stored raw message into the store
        return store.put_stream(attachment.chunks())
    except ValueError:  # bad base64: the email package's tolerant decoder decides
        data = attachment.payload()
        digest, stored = store.put_bytes(data)
        return digest, stored, len(data)


class Intake:
    def __init__(self, config: Config, store: Repository, checker: Checker = check_file,
                 stop: Event | None = None) -> None:
        self.config = config
        self.store = store
        self.checker = checker
        self.stop = stop or Event()
        self.max_tries = config.mailbox.max_tries
        self.disk_full = False  # storage.dir ran out of space: take nothing more this run
        self.unseen: set[str] = set()  # keys this run found no record of

    # --- the run --------------------------------------------------------------------------

    def run(self, source: Source, deal: Deal | None = None, resume: bool = True) -> Stats:
        """Everything new on ``source``, plus (``resume``) what an earlier run left half done.
        ``deal`` hands out the listed items a batch at a time (:mod:`.sharing`: another
        process takes the other batches); by default the whole listing is one batch."""
        self.store.register()  # a worker, for its claims
        self.disk_full = False
        with self.store.batch():
            stats = self._run(source, deal or _whole, resume)
        stats.disk_full = self.disk_full
        return stats

    def _run(self, source: Source, deal: Deal, resume: bool) -> Stats:
        stats = Stats()
        if resume:
            self._resume(stats)
        self.cursor = self.store.source_cursor(source.name)
        items = source.pending(self.cursor)
        settled: set[str] = set()  # needs nothing more from the server: may be skipped
        self.unseen = set()
        # Chunk by chunk; a chunk's files are synced in the background while the next chunk
        # is fetched and processed, and the chunk is marked once they are on disk.
        behind: tuple[Future[list[Path]], list[Item], list[Item]] | None = None
        try:
            for batch in deal(items):
                fresh = self._sort(source, items, batch, settled)
                for start in range(0, len(fresh), FETCH_CHUNK):
                    if self.stop.is_set() or self.disk_full:
                        break
                    chunk = fresh[start:start + FETCH_CHUNK]
                    done = self._take(source, chunk, settled, stats)
                    if behind is not None:
                        self._settle(source, *behind)
                    behind = (self.store.start_barrier(), done, _settled_prefix(items, settled))
                if self.stop.is_set() or self.disk_full:
                    break
            if behind is not None:
                self._settle(source, *behind)
                behind = None
        finally:
            if behind is not None:  # an error: wait for the syncs, mark nothing
                with contextlib.suppress(Exception):
                    behind[0].result()
        return stats

    def _sort(self, source: Source, items: list[Item], batch: list[Item],
              settled: set[str]) -> list[Item]:
        """The items of ``batch`` to fetch: new ones, or those whose files were lost. Those
        the store holds as processed but the server never saw marked are marked now."""
        finished: list[Item] = []
        fresh: list[Item] = []
        known = self.store.messages_for_keys([item.key for item in batch])
        for item in batch:
            row = known.get(item.key)
            if row is None:
                self.unseen.add(item.key)
            if row is None or not self.store.intact(row) or self._now_small_enough(row, item):
                fresh.append(item)  # new, or its files were lost: fetch (again)
                continue
            if row.state == PROCESSED:  # committed before a crash, never marked
                finished.append(item)
            if row.state in SETTLED:
                settled.add(item.key)
        if fresh and self.checker is check_file:
            self._prestart()  # starts nothing when the worker is there or starting
        self._mark(source, finished)
        if not fresh:
            self._advance(source, _settled_prefix(items, settled))
        return fresh

    def _prestart(self) -> None:
        """Start one probe worker now, so that its start overlaps the first fetch (a poll
        with nothing new starts none). Intake checks one file at a time: the first check
        waits for this worker rather than starting a second (the pool counts a worker that
        is still starting), which would cost another ~0.7 s of CPU."""
        prestart(self.config.policy.probe)

    def _now_small_enough(self, row: MessageRecord, item: Item) -> bool:
        """A message refused as too large, whose size the raised limit now admits."""
        return row.state == TOO_LARGE and item.size is not None and \
            item.size <= self.config.mailbox.max_message_size

    def _mark(self, source: Source, items: list[Item]) -> None:
        """Step 6, behind the durability barrier: files and records on disk first."""
        if items:
            self.store.barrier()
            source.mark(items)

    def _settle(self, source: Source, files: Future[list[Path]], done: list[Item],
                prefix: list[Item]) -> None:
        """Step 6 for a chunk whose files :meth:`Repository.start_barrier` is syncing: wait
        for them, make the database durable, then mark; then remember how far we got."""
        self.store.finish_barrier(files)
        source.mark(done)
        self._advance(source, prefix)

    def _advance(self, source: Source, items: list[Item]) -> None:
        """Keep the source's new cursor past ``items`` (it alone knows what it means)."""
        cursor = source.advance(self.cursor, items)
        if cursor is not None and cursor != self.cursor:
            self.store.save_source_cursor(source.name, cursor)
            self.cursor = cursor

    def _take(self, source: Source, chunk: list[Item], settled: set[str],
              stats: Stats) -> list[Item]:
        limit = self.config.mailbox.max_message_size
        small = [item for item in chunk if item.size is None or item.size <= limit]
        for item in chunk:
            if item not in small:
                stats.count(self.record_too_large(item, source.fetch_header(item)))
        received = self._receive_all(source.fetch(small))
        done = []
        for item, state, message in received:
            if self.stop.is_set() or self.disk_full:
                break
            if message is not None and state == RECEIVED:
                state = self.process(message)
            stats.count(state)
            if state in SETTLED:  # marked on the server once durable
                done.append(item)
                settled.add(item.key)
        return done

    def _receive_all(self, fetched: Iterator[tuple[Item, bytes]]
                     ) -> list[tuple[Item, str, int | None]]:
        """Step 1 for every fetched message, before any is processed, so each raw copy is
        freed before parsing starts (messages are then processed from their stored copies).
        Records are committed a few MB at a time (one write of each index page per group,
        not per message), and never while the server is being waited for: the write lock is
        not held over the network, so ``report`` and ``remind`` need not wait for a fetch."""
        received: list[tuple[Item, str, int | None]] = []
        group: list[tuple[Item, bytes]] = []
        size = 0
        for item, raw in fetched:
            if self.disk_full:
                break
            group.append((item, raw))
            size += len(raw)
            del raw
            if size >= RECEIVE_GROUP_BYTES:
                received += self._receive_group(group)
                group, size = [], 0
        return received + self._receive_group(group)

    def _receive_group(self, group: list[tuple[Item, bytes]]
                       ) -> list[tuple[Item, str, int | None]]:
        received = []
        with self.store.transaction():
            while group:
                item, raw = group.pop(0)
                try:
                    state, message = self.receive(item.key, raw,
                                                  unseen=item.key in self.unseen)
                except DatabaseError:  # busy or damaged: stop the run, nothing half-done
                    raise
                except Exception as error:  # our own bug on hostile input, or a store fault
                    if _no_space(error):  # not recorded: the next poll takes it
                        self._out_of_space(item.key, error)
                        break
                    state, message = self._receive_failed(item.key, raw, error), None
                finally:
                    del raw
                received.append((item, state, message))
        return received

    def _receive_failed(self, key: str, raw: bytes, error: Exception) -> str:
        """Step 1 raised: count it as a try of a record holding what is known (the key, the
        hash, the size), so that the message is marked failed after ``max_tries`` and listed
        in ``report``, never skipped silently on every run. One log line per try."""
        detail = f"{type(error).__name__}: {error}"
        try:
            with self.store.transaction():
                row = self.store.message_for_key(key)
                message = row.id if row is not None else self.store.record_received(
                    key, Received(sha256=hashlib.sha256(raw).hexdigest(), size=len(raw),
                                  message_id=None, sender=None, sender_name=None, subject="",
                                  date_header=None)).message
                if self.store.claim(message) is None:  # another process holds it
                    return ELSEWHERE
                state = self.store.fail_try(message, detail, self.max_tries)
                record = self.store.message(message)
                tries = record.tries if record else 0
        except Exception as second:  # the database itself refuses: nothing more to record
            log.error("%s: could not be recorded: %s; nor its failure: %s", key, detail, second)
            return FAILED
        outcome = "marked failed" if state == FAILED else "will retry"
        log.error("%s #%d: could not be recorded (try %d of %d, %s): %s", key, message, tries,
                  self.max_tries, outcome, detail)
        return state

    def _resume(self, stats: Stats) -> None:
        for row in self.store.give_up(self.max_tries):
            log.error("%s #%d from %s: failed after %d tries: %s", row.source_key, row.id,
                      row.sender, row.tries, row.last_error or "crash")
        skipped: set[int] = set()
        while not self.stop.is_set() and not self.disk_full:
            row = self.store.claim_next(self.max_tries, skipping=skipped)
            if row is None:
                return
            if not self.store.intact(row):  # its raw copy is missing: the run fetches and
                self.store.release(row.id)  # stores it again
                skipped.add(row.id)
                continue
            stats.count(self._work(row))

    # --- one message ----------------------------------------------------------------------

    def receive(self, key: str, raw: bytes, unseen: bool = False) -> tuple[str, int | None]:
        """Step 1: the raw message into the store, committed. Returns its state and record id
        (None for a duplicate of a message recorded under another key). ``unseen``: the key
        was just looked up and not found, so it is not looked up again (if another process
        recorded it since, the insert finds its key taken and returns that record)."""
        row = None if unseen else self.store.message_for_key(key)
        if row is not None:
            if row.state == FAILED:  # only a retry on demand takes it up again
                return FAILED, row.id
            if row.state == TOO_LARGE:  # the limit was raised: take the whole message now
                self._replace_raw(row.id, raw)
            elif not self.store.intact(row):
                self._repair(row, raw)
            row = self.store.message(row.id) or row
            state = row.state
            if state == RECEIVED and row.tries >= self.max_tries:
                state = FAILED
            return (ALREADY_DONE if state == PROCESSED else state), row.id
        digest = self.store.put_raw(raw)
        head = parse_headers(raw)
        recorded = self.store.record_received(key, Received(
            sha256=digest, size=len(raw), message_id=head.message_id, sender=head.sender,
            sender_name=head.sender_name, subject=head.subject[:1000],
            date_header=head.date, content=content_digest(raw)))
        if recorded.duplicate:
            log.info("%s: duplicate of message #%d (%s), not processed again", key,
                     recorded.message, head.message_id or digest[:12])
            return DUPLICATE, None
        if not recorded.new:  # another process recorded it a moment ago
            known = self.store.message(recorded.message)
            state = known.state if known else RECEIVED
            return (ALREADY_DONE if state == PROCESSED else state), recorded.message
        return RECEIVED, recorded.message

    def _repair(self, row: MessageRecord, raw: bytes) -> None:
        """Files of a recorded message went missing (a power loss before the barrier): store
        the raw message again and process it once more (its reply id is derived from the raw
        message's hash, so the reply is still queued only once)."""
        digest = self.store.put_raw(raw)
        if digest != row.sha256:  # another copy (a duplicate): it cannot stand in
            log.warning("%s #%d: stored files are missing; waiting for the original copy",
                        row.source_key, row.id)
            return
        self.store.restart(row.id)
        log.warning("%s #%d: stored files were missing, stored again", row.source_key, row.id)

    def _replace_raw(self, message: int, raw: bytes) -> None:
        """A message recorded from its header only now comes whole: store it and process it
        (its reply, derived from the whole message's hash, is a new one: the files' verdicts)."""
        self.store.replace_raw(message, self.store.put_raw(raw), len(raw), content_digest(raw))
        log.info("message #%d: under the raised size limit now, taken in whole", message)

    def record_too_large(self, item: Item, header: bytes) -> str:
        """A message over ``max_message_size``: recorded from its header, left on the server
        unmarked for a person, and the sender told (by the same rules as any reply)."""
        if self.store.message_for_key(item.key) is not None:
            return TOO_LARGE
        digest = self.store.put_raw(header)
        head = parse_headers(header)
        error = f"message of {item.size} bytes exceeds mailbox.max_message_size"
        with self.store.transaction():
            recorded = self.store.record_received(item.key, Received(
                sha256=digest, size=item.size or 0, message_id=head.message_id,
                sender=head.sender, sender_name=head.sender_name,
                subject=head.subject[:1000], date_header=head.date, state=TOO_LARGE,
                last_error=error, content=content_digest(header)))
            if not recorded.new:  # recorded already (another process, or a duplicate)
                return TOO_LARGE
            record = self.store.message(recorded.message)
            assert record is not None
            unit, reason = record_triage(self.config, self.store, record, head, [], TOO_LARGE,
                                         too_large=item.size)
        log.warning("%s from %s: too large (%s bytes), left on the server: %s", item.key,
                    head.sender, item.size, describe(unit, reason))
        return TOO_LARGE

    def process(self, message: int) -> str:
        """Steps 2 to 5 for a message whose raw bytes are in the store, once claimed (a try
        is counted); :data:`ELSEWHERE` when another live process holds it."""
        row = self.store.claim(message)
        return ELSEWHERE if row is None else self._work(row)

    def _work(self, row: MessageRecord) -> str:
        """Steps 2 to 5 for a message this process has claimed."""
        message = row.id
        if row.reuses is not None and row.tries <= 1:
            log.info("%s #%d: reuses the Message-ID %s of message #%d with other content: "
                     "a new submission", row.source_key, message, row.message_id, row.reuses)
        try:
            with self.store.raw_path(row.sha256).open("rb") as stream:
                mail = parse(stream)  # attachments are decoded from the stream
                verdicts = [self._check(attachment) for attachment in mail.attachments]
            mail.attachments = []  # drop the parsed parts: verdicts are all we keep
            outcome = self._record(row, mail, verdicts)
        except DatabaseError:  # busy or damaged: not this message's fault, not a try
            raise
        except Exception as error:
            if _no_space(error):  # not the message's fault: give the try back
                self.store.release(message)
                self._out_of_space(f"message #{message}", error)
                return RECEIVED
            state = self.store.fail_try(message, f"{type(error).__name__}: {error}",
                                        self.max_tries)
            log.exception("%s #%d from %s: %s (%s)", row.source_key, message, row.sender,
                          "failed" if state == FAILED else "error, will retry", error)
            return state
        log.info("%s #%d from %s: %s", row.source_key, message, row.sender, outcome)
        return PROCESSED

    def _out_of_space(self, what: str, error: Exception) -> None:
        """storage.dir is full: one line, and this run takes no more messages."""
        if not self.disk_full:
            reason = error.strerror if isinstance(error, OSError) else str(error)
            log.error("storage.dir is full (%s): %s left for the next poll", reason, what)
        self.disk_full = True

    def _check(self, attachment: Attachment) -> NewAttachment:
        digest, stored, size = store_attachment(self.store, attachment)
        verdicts = self.checker(self.store.path(stored), self.config.policy, attachment.name)
        return NewAttachment(attachment.position, attachment.name, stored, digest, size,
                             attachment.content_type, [v.record() for v in verdicts])

    def _record(self, row: MessageRecord, mail: ParsedMail, files: list[NewAttachment]) -> str:
        """Steps 4 and 5 in one transaction: verdicts, message state and the queued reply."""
        verdicts = [verdict for item in files for verdict in item.verdicts]
        with self.store.transaction():
            self.store.record_verdicts(row.id, files, row.subject)
            unit, reason = record_triage(self.config, self.store, row, mail, verdicts,
                                         PROCESSED)
        ok = sum(1 for verdict in verdicts if verdict["ok"])
        return describe(unit, reason, f"files={len(verdicts)} ok={ok} ")


def _no_space(error: BaseException) -> bool:
    """A full disk (or quota): the message is not at fault, and waits for space."""
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def _whole(items: list[Item]) -> Iterator[list[Item]]:
    yield items


def _settled_prefix(items: list[Item], settled: set[str]) -> list[Item]:
    """The leading items that need nothing more from the server: safe to skip on the next
    incremental run. A message that failed, was left half done or was too large is not: it
    stays listed, so that once a retry (or a raised limit) lets it through, it is marked on
    the server too."""
    prefix = []
    for item in items:
        if item.key not in settled:
            break
        prefix.append(item)
    return prefix
