"""``safetymonth poll``: one pass (``--once``) or a watch loop that survives network trouble."""

from __future__ import annotations

import imaplib
import logging
import os
import signal
import smtplib
from threading import Event
from types import FrameType

from imap_tools.errors import ImapToolsError

from safetymonth.config import Config
from safetymonth.mailbox.intake import Intake, Stats
from safetymonth.mailbox.outbox import OutboxRun, deliver
from safetymonth.mailbox.source import Source, open_source
from safetymonth.mailbox.transports import open_transport
from safetymonth.storage.repository import Repository, open_repository

log = logging.getLogger("safetymonth.poll")

# What a mail server or the network can throw at us; imap-tools wraps a refused LOGIN or
# SELECT (163.com's temporary "Unsafe Login") in its own errors.
NETWORK_ERRORS = (OSError, imaplib.IMAP4.error, imaplib.IMAP4.abort, smtplib.SMTPException,
                  ImapToolsError)
MAX_BACKOFF = 300.0


def poll_once(config: Config, stop: Event | None = None, retry_failed: bool = False,
              new_database: bool = False) -> Stats:
    """Process everything new, then deliver every queued reply (``replies_left`` in the
    result: how many stayed queued)."""
    with open_repository(config, new_database) as store:
        if retry_failed:
            log.info("retrying %d failed messages", store.retry_failed())
        source = open_source(config)
        try:
            stats = Intake(config, store, stop=stop).run(source)
        finally:
            source.close()
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


def watch(config: Config, stop: Event, new_database: bool = False) -> None:
    """Poll, then wait (IMAP IDLE or the poll interval) until ``stop``; reconnect with
    exponential backoff when the server or the network fails."""
    backoff = 1.0
    with open_repository(config, new_database) as store:
        source: Source = open_source(config)
        try:
            store.hold_source(source.name, source.label)  # or SourceHeldError: one watcher
            log.info("watching %s (pid %d)", source.label, os.getpid())
            while not stop.is_set():
                try:
                    Intake(config, store, stop=stop).run(source)
                    send_queued(config, store)
                    backoff = 1.0
                    source.wait(config.mailbox.poll_interval, stop)
                except NETWORK_ERRORS as error:
                    log.warning("mail server: %s; reconnecting in %.0f s", error, backoff)
                    source.close()
                    stop.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            source.close()
    log.info("stopped")


def stop_on_signals() -> Event:
    """An event set by SIGTERM or SIGINT: the loop finishes the current message and exits."""
    stop = Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: finishing the current message, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
