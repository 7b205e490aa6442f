"""``safetymonth poll``: one pass (``--once``) or a watch loop that survives network trouble."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from threading import Event
from types import FrameType

from imap_tools.errors import ImapToolsError

from safetymonth.config import Config
from safetymonth.mailbox.digest import queue_due_digests, seconds_to_next_digest
from safetymonth.mailbox.intake import Intake, Stats
from safetymonth.mailbox.outbox import OutboxRun, deliver
from safetymonth.mailbox.servers import RAW_ERRORS, AccountError, ServerError
from safetymonth.mailbox.sharing import Progress, take_new
from safetymonth.mailbox.source import Source, open_source
from safetymonth.mailbox.transports import open_transport
from safetymonth.storage.repository import Clock, Repository, open_repository, utc_now

log = logging.getLogger("safetymonth.poll")

# What a mail server or the network can throw at us: ours name the server and what to check;
# imap-tools wraps a refused command mid-session in its own errors.
NETWORK_ERRORS = (ServerError, *RAW_ERRORS, ImapToolsError)
MAX_BACKOFF = 300.0  # seconds between reconnections during an outage, at most
LOGIN_ATTEMPTS = 3  # refused logins in a row before watch mode gives up
# While replies stay queued because the outbox failed, delivery is tried again after 5 s,
# 10 s, ... at most 45 s (whatever the poll interval), so with the connection attempts of
# one delivery they go within a minute of the outbox coming back.
OUTBOX_RETRY_FIRST, OUTBOX_RETRY_MAX = 5.0, 45.0
# While waiting for mail, the watcher looks at the outbox this often: a reminder or a
# decision's notice that the console (or a script) queued goes within seconds, mail or no
# mail. Requests never send mail themselves; the watcher is the one that does.
OUTBOX_TICK = 2.0


def poll_once(config: Config, stop: Event | None = None, retry_failed: bool = False,
              new_database: bool = False, clock: Clock = utc_now,
              progress: Progress | None = None) -> Stats:
    """Process everything new (in two processes when much is waiting, see
    :mod:`~safetymonth.mailbox.sharing`), queue the digests whose window has ended, then
    deliver every queued reply (``replies_left`` in the result: how many stayed queued)."""
    with open_repository(config, new_database, clock) as store:
        if retry_failed:
            log.info("retrying %d failed messages", store.retry_failed())
        source = open_source(config)
        try:
            stats = take_new(config, store, source, stop or Event(), clock, progress)
        finally:
            source.close()
        queue_due_digests(config, store)
        stats.replies_left = send_queued(config, store).left
    return stats


def send_queued(config: Config, store: Repository) -> OutboxRun:
    """Deliver every queued reply through ``mailbox.outbox``."""
    transport = open_transport(config)
    try:
        with store.batch():  # the transport settles its own durability before each mark
            run = deliver(store, transport, config.mailbox.address)
    finally:
        transport.close()
    if run.sent or run.left:
        log.info("replies: %d sent, %d still queued", run.sent, run.left)
    return run


def watch(config: Config, stop: Event, new_database: bool = False,
          clock: Clock = utc_now) -> None:
    """Poll, then wait (IMAP IDLE, the poll interval, or until the next digest is due)
    until ``stop``. Outages are retried
    with exponential backoff; a login refused :data:`LOGIN_ATTEMPTS` times in a row raises
    :class:`LoginsRefused` (the CLI exits 1 with it)."""
    with open_repository(config, new_database, clock) as store:
        source: Source = open_source(config)
        try:
            store.hold_source(source.name, source.label)  # or SourceHeldError: one watcher
            log.info("poll pid %d on %s holds %s", os.getpid(), socket.gethostname(),
                     source.label)
            Watcher(config, store, source, stop).run()
        finally:
            source.close()
    log.info("stopped")


class LoginsRefused(ServerError):
    """A server refused our login :data:`LOGIN_ATTEMPTS` times in a row: watch mode stops."""


@dataclass
class Watcher:
    """The watch loop and what it counts between rounds."""

    config: Config
    store: Repository
    source: Source
    stop: Event
    announced: bool = False
    backoff: float = 1.0  # before the next reconnection after an outage
    refused: dict[str, int] = field(default_factory=dict)  # refused logins in a row, by side
    outbox_retry: float = 0.0  # 0: the outbox works; else seconds to the next delivery
    left: int = 0  # replies still queued after the last delivery (deferred ones)

    def run(self) -> None:
        interval = self.config.mailbox.poll_interval
        while not self.stop.is_set():
            try:
                self._round()
                wait = min(interval, self.outbox_retry) if self.outbox_retry else interval
                wait = seconds_to_next_digest(self.store, wait)
                self._wait(wait)
            except LoginsRefused:
                raise
            except AccountError as error:
                self._count_refusal("mailbox.source", error)
                self._back_off(error)
            except NETWORK_ERRORS as error:
                self._back_off(error)

    def _round(self) -> None:
        """Take what is new, then deliver what is queued."""
        Intake(self.config, self.store, stop=self.stop).run(self.source)
        self.refused.pop("mailbox.source", None)
        self.backoff = 1.0
        if not self.announced:
            waiting = self.source.waiting(self.config.mailbox.poll_interval)
            log.info("watching %s (%s)", self.source.label, waiting)
            self.announced = True
        queue_due_digests(self.config, self.store)
        outbox = send_queued(self.config, self.store)
        self.left = outbox.left
        if outbox.account_refused:
            assert isinstance(outbox.stopped_by, AccountError)
            self._count_refusal("mailbox.outbox", outbox.stopped_by)
        else:
            self.refused.pop("mailbox.outbox", None)
        if outbox.stopped_by is None:
            self.outbox_retry = 0.0
        else:
            self.outbox_retry = min(OUTBOX_RETRY_MAX, self.outbox_retry * 2 or
                                    OUTBOX_RETRY_FIRST)
            log.info("%d replies stay queued: delivery is tried again in %.0f s",
                     outbox.left, self.outbox_retry)

    def _wait(self, seconds: float) -> None:
        """Wait as the source does (IDLE, or the poll interval), for at most ``seconds``,
        but look at the outbox every :data:`OUTBOX_TICK` seconds and end the wait once more
        replies are queued than the last delivery left (deferred replies wait for their
        retry; while the outbox fails, its retry time is the wait)."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.source.wait(min(OUTBOX_TICK, remaining), self.stop):
                return
            if not self.outbox_retry:
                queued = self.store.queued_reply_count()
                if queued > self.left:
                    return
                self.left = queued  # another process sent some: count from what is left

    def _count_refusal(self, side: str, error: AccountError) -> None:
        """Raise once the same side has refused our login :data:`LOGIN_ATTEMPTS` times:
        163.com and 126.com lock an account after repeated failures."""
        self.refused[side] = self.refused.get(side, 0) + 1
        if self.refused[side] >= LOGIN_ATTEMPTS:
            raise LoginsRefused(f"{error}. The server of {side} refused our login "
                                f"{LOGIN_ATTEMPTS} times in a row, so poll stops here "
                                "(163.com and 126.com lock an account after repeated "
                                "failures): fix the configuration, then start poll again"
                                ) from error

    def _back_off(self, error: Exception) -> None:
        where = "" if isinstance(error, ServerError) else f"{self.source.label}: "
        log.warning("mail server: %s%s; reconnecting in %.0f s", where, error, self.backoff)
        self.source.close()
        self.stop.wait(self.backoff)
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)


def stop_on_signals() -> Event:
    """An event set by SIGTERM or SIGINT: the loop finishes the current message and exits."""
    stop = Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: finishing the current message, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
