"""Both cores for a big ``poll --once``: with more than :data:`SPLIT_AT` messages waiting, the
poll starts :data:`WORKERS` − 1 more processes and the listed messages are dealt out, a few at
a time (:class:`Dealer`), to whichever process asks first, the poll's own included; each runs
the ordinary intake (:class:`~safetymonth.mailbox.intake.Intake`) on what it is dealt. The
poll itself starts at once, while the others are still starting, and a slower process simply
takes fewer: nobody waits for a fixed half.

Nothing here decides who processes a message: the claims do (a message is recorded under a
unique key and claimed before it is worked on), exactly as when several ``poll`` run side by
side. The split only keeps the two processes from fetching the same messages. Each worker
marks its own messages on the server behind its own durability barrier; the source's cursor,
which must never pass a message that is not settled, is moved by the parent alone, once every
worker has finished, over the leading messages the store holds as processed. A worker that
dies leaves its claims to the lease (at once on this host) and its messages unmarked and
behind the cursor: the next poll takes them, and this one exits 1.

Workers are started with the ``spawn`` context: a fresh interpreter, so no database
connection, IMAP socket or thread of the parent is shared with them.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from threading import Event

from safetymonth.config import Config
from safetymonth.mailbox.intake import Intake, Stats
from safetymonth.mailbox.servers import ServerError
from safetymonth.mailbox.source import Item, Source, open_source
from safetymonth.storage.repository import PROCESSED, Clock, Repository, open_repository

log = logging.getLogger("safetymonth.poll")

SPLIT_AT = 200  # more waiting messages than this: the poll shares them between processes
# Tests lower the threshold through the environment; it is not part of the configuration.
SPLIT_AT_ENV = "SAFETYMONTH_POLL_SPLIT_AT"
WORKERS = min(2, os.cpu_count() or 1)  # processes in all, the poll's own included
DEAL_AT_MOST = 25  # messages dealt at a time (fewer for a short listing: see Dealer)
WAIT_SLICE = 0.5  # seconds between two looks at the stop event while workers run

Progress = Callable[[int, int], None]  # (messages done so far, messages listed)


class WorkerFailed(Exception):
    """A worker process died or stopped on an error: its messages wait for the next poll."""


def split_at() -> int:
    """The threshold, from :data:`SPLIT_AT_ENV` when set (tests), else :data:`SPLIT_AT`."""
    value = os.environ.get(SPLIT_AT_ENV, "")
    return int(value) if value.isdigit() else SPLIT_AT


class Listed:
    """A source whose listing was already taken: :meth:`pending` returns those items (the
    parent listed them to decide whether to split), everything else goes to ``source``.
    A worker's share does not move the cursor (``keeps_cursor``): the other share may still
    hold an earlier message, and the parent moves it once both are done."""

    def __init__(self, source: Source, items: list[Item], keeps_cursor: bool = False) -> None:
        self.source = source
        self.items = items
        self.keeps_cursor = keeps_cursor
        self.name, self.label = source.name, source.label
        self.on_mark: Callable[[int], None] | None = None

    def pending(self, cursor: str | None) -> list[Item]:
        return self.items

    def fetch(self, items: list[Item]) -> Iterator[tuple[Item, bytes]]:
        return self.source.fetch(items)

    def fetch_header(self, item: Item) -> bytes:
        return self.source.fetch_header(item)

    def mark(self, items: list[Item]) -> None:
        self.source.mark(items)
        if self.on_mark is not None and items:
            self.on_mark(len(items))

    def advance(self, cursor: str | None, items: list[Item]) -> str | None:
        return cursor if self.keeps_cursor else self.source.advance(cursor, items)

    def waiting(self, seconds: float) -> str:
        return self.source.waiting(seconds)

    def wait(self, seconds: float, stop: Event) -> bool:
        return self.source.wait(seconds, stop)

    def close(self) -> None:
        self.source.close()


def take_new(config: Config, store: Repository, source: Source, stop: Event,
             clock: Clock, progress: Progress | None = None) -> Stats:
    """Intake of everything new on ``source``: in this process, or shared between
    :data:`WORKERS` processes when more than :func:`split_at` messages are waiting."""
    cursor = store.source_cursor(source.name)
    items = source.pending(cursor)
    if WORKERS < 2 or len(items) <= split_at():
        return Intake(config, store, stop=stop).run(Listed(source, items))
    # First what an earlier run left half done, here: a worker that took up a message of the
    # other's share would leave it unmarked (the other saw it unfinished and skipped it).
    stats = Intake(config, store, stop=stop).run(Listed(source, [], keeps_cursor=True))
    if stop.is_set() or stats.disk_full:
        return stats
    log.info("%d messages waiting: shared between %d processes", len(items), WORKERS)
    _add(stats, Sharing(config, clock, stop, len(items), progress).run(store, source, items))
    _advance(store, source, cursor, items)
    return stats


class Dealer:
    """Hands out the listed messages a few at a time to whichever process asks first.

    Each process's first hand is its own (hand ``n`` to process ``n``), so every process
    takes part however late it starts; the rest go by a counter all of them share. A hand
    is :data:`DEAL_AT_MOST` messages, or fewer for a short listing, so that each process
    gets several.
    """

    def __init__(self, context: SpawnContext, total: int, processes: int) -> None:
        self.size = max(1, min(DEAL_AT_MOST, -(-total // (4 * processes))))
        self._next = context.Value("q", processes)  # the next hand nobody owns yet

    def deal(self, items: list[Item], first: int) -> Iterator[list[Item]]:
        """Process ``first``'s way through ``items``: its own hand, then shared ones."""
        hand = first
        while hand * self.size < len(items):
            yield items[hand * self.size:(hand + 1) * self.size]
            with self._next.get_lock():
                hand = self._next.value
                self._next.value += 1


def _advance(store: Repository, source: Source, cursor: str | None,
             items: list[Item]) -> None:
    """Move the cursor past the leading items the store holds as processed (a duplicate's
    key leads to the message it duplicates): what one intake does at the end of its run."""
    prefix = []
    for item in items:
        row = store.message_for_key(item.key)
        if row is None or row.state != PROCESSED:
            break
        prefix.append(item)
    moved = source.advance(cursor, prefix)
    if moved is not None and moved != cursor:
        store.save_source_cursor(source.name, moved)


@dataclass
class Worker:
    process: BaseProcess
    conn: Connection
    stats: Stats | None = None
    error: str | None = None  # why it stopped before its last hand
    source_error: bool = False  # the error came from the mail server


class Sharing:
    """The parent's side: start the other processes, take part itself, count everyone's
    progress (a thread follows the others), add up their figures, and say which failed."""

    def __init__(self, config: Config, clock: Clock, stop: Event, total: int,
                 progress: Progress | None) -> None:
        self.config, self.clock, self.stop = config, clock, stop
        self.total, self.progress, self.done = total, progress, 0
        self._lock = threading.Lock()
        self.stop_workers = Event()  # this process failed: the others finish and end

    def run(self, store: Repository, source: Source, items: list[Item]) -> Stats:
        """Start the other processes, take part in this one, and add up everyone's figures
        once all have ended."""
        context = multiprocessing.get_context("spawn")
        dealer = Dealer(context, len(items), WORKERS)
        workers = []
        for hand in range(1, WORKERS):
            ours, theirs = context.Pipe(duplex=False)
            process = context.Process(target=work_share, name="safetymonth-poll-worker",
                                      args=(self.config, items, dealer, hand,
                                            self.clock, theirs,
                                            logging.getLogger().getEffectiveLevel()))
            process.start()
            theirs.close()
            workers.append(Worker(process, ours))
        follower = threading.Thread(target=self._follow, args=(workers,),
                                    name="safetymonth-poll-follower", daemon=True)
        follower.start()
        try:
            own = self._take_part(store, source, items, partial(dealer.deal, first=0))
        except BaseException:
            self.stop_workers.set()  # the others finish their current message and end
            raise
        finally:
            follower.join()
        total = self._result(workers)
        _add(total, own)
        return total

    def _take_part(self, store: Repository, source: Source, items: list[Item],
                   deal: Callable[[list[Item]], Iterator[list[Item]]]) -> Stats:
        """This process's part: the ordinary intake over the hands it is dealt."""
        own = Listed(source, items, keeps_cursor=True)
        own.on_mark = self._count
        stats = Intake(self.config, store, stop=self.stop).run(own, deal, resume=False)
        _log_done(stats)
        return stats

    def _count(self, marked: int) -> None:
        """Messages marked by any process: the progress (from two threads)."""
        with self._lock:
            self.done += marked
            if self.progress is not None:
                self.progress(self.done, self.total)

    @staticmethod
    def _terminate(workers: list[Worker]) -> None:
        for worker in workers:
            if worker.process.pid is not None and worker.process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid, signal.SIGTERM)

    def _follow(self, workers: list[Worker]) -> None:
        """Read what the workers say until every one has ended; pass on a stop."""
        running = list(workers)
        stopping = False
        while running:
            if (self.stop.is_set() or self.stop_workers.is_set()) and not stopping:
                stopping = True  # each finishes its current message, marks, and ends
                self._terminate(running)
            ready = wait([w.conn for w in running] + [w.process.sentinel for w in running],
                         timeout=WAIT_SLICE)
            for worker in list(running):
                if worker.conn in ready and self._read(worker):
                    continue
                if worker.process.sentinel in ready or worker.conn in ready:
                    self._read_rest(worker)
                    worker.process.join()
                    running.remove(worker)

    def _read(self, worker: Worker) -> bool:
        """Take one report of ``worker``; False once its pipe is closed."""
        try:
            kind, value = worker.conn.recv()
        except (EOFError, OSError):
            return False
        if kind == "marked":
            self._count(value)
        elif kind == "stats":
            worker.stats = value
        else:
            worker.error, worker.source_error = value, kind == "source"
        return True

    def _read_rest(self, worker: Worker) -> None:
        while worker.conn.poll() and self._read(worker):
            pass

    def _result(self, workers: list[Worker]) -> Stats:
        total = Stats()
        failures = []
        for worker in workers:
            if worker.stats is None or worker.process.exitcode != 0:
                failures.append(self._failure(worker))
                continue
            _add(total, worker.stats)
        if failures:
            if all(worker.source_error for worker in workers if worker.stats is None):
                raise ServerError("; ".join(failures))
            raise WorkerFailed("; ".join(failures))
        return total

    def _failure(self, worker: Worker) -> str:
        pid, code = worker.process.pid, worker.process.exitcode
        if worker.error is not None:
            return worker.error if worker.source_error else \
                f"poll worker pid {pid} stopped: {worker.error}"
        how = f"killed by signal {-code}" if code is not None and code < 0 else \
            f"exit code {code}"
        log.error("poll worker pid %s died (%s); its messages wait for the next poll", pid,
                  how)
        return f"poll worker pid {pid} died ({how}); the next poll takes its messages"


def _add(total: Stats, part: Stats) -> None:
    total.processed += part.processed
    total.duplicates += part.duplicates
    total.failed += part.failed
    total.too_large += part.too_large
    for state, count in part.states.items():
        total.states[state] = total.states.get(state, 0) + count
    total.disk_full = total.disk_full or part.disk_full


def work_share(config: Config, items: list[Item], dealer: Dealer, hand: int, clock: Clock,
               conn: Connection, log_level: int) -> None:
    """Another process: the ordinary intake over the hands ``dealer`` gives it of ``items``
    (``hand`` its first), its figures sent back over ``conn``. SIGTERM or SIGINT finish the
    current message, as in the parent."""
    from safetymonth.mailbox.service import NETWORK_ERRORS, stop_on_signals

    _log_like_parent(config, log_level)
    stop = stop_on_signals()
    pid = os.getpid()
    log.info("poll worker pid %d takes part", pid)
    source = Listed(open_source(config), items, keeps_cursor=True)  # connects when used
    source.on_mark = lambda count: conn.send(("marked", count))
    try:
        with open_repository(config, False, clock) as store:
            try:
                stats = Intake(config, store, stop=stop).run(
                    source, partial(dealer.deal, first=hand), resume=False)
            finally:
                source.close()
    except NETWORK_ERRORS as error:  # ours name the server; a raw socket error does not
        where = "" if isinstance(error, ServerError) else f"{source.label}: "
        conn.send(("source", f"{where}{error}"))
        raise SystemExit(1) from None
    except Exception as error:
        log.error("poll worker pid %d: %s", pid, traceback.format_exc())
        conn.send(("error", f"{type(error).__name__}: {error}"))
        raise SystemExit(1) from None
    _log_done(stats)
    conn.send(("stats", stats))
    conn.close()


def _log_done(stats: Stats) -> None:
    log.info("poll worker pid %d: processed %d, duplicates %d, failed %d, too large %d",
             os.getpid(), stats.processed, stats.duplicates, stats.failed, stats.too_large)


def _log_like_parent(config: Config, level: int) -> None:
    """A spawned process starts without the parent's logging: the same lines on stderr."""
    if level <= logging.INFO:
        from safetymonth.cli.runtime import log_to_stderr

        log_to_stderr(config)
