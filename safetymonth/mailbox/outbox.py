"""The outbox loop: every queued reply, claimed, handed to the transport, then settled in the
store by what the transport answered.

A reply is marked sent only after the transport accepted it and made it durable; anything
else leaves it queued for the next run. Each reply is claimed first (a batch of them in one
commit), so two processes never hand the same reply to the transport. A reply refused for
good is marked refused; one deferred stays queued, and the others go on. A refused account
or an unavailable server stops the run: the rest stay queued (and unclaimed) for the next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from safetymonth.mailbox.servers import AccountError, ServerError
from safetymonth.mailbox.transports import Outcome, Transport
from safetymonth.storage.repository import ReplyRecord, Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxRun:
    """What one run of the outbox did: replies sent, replies still queued, and why the run
    stopped early (None when it went through the queue)."""

    sent: int
    left: int
    stopped_by: ServerError | None = None

    @property
    def account_refused(self) -> bool:
        return isinstance(self.stopped_by, AccountError)


class _Settlement:
    """Replies the transport accepted, marked sent a batch at a time, each batch once the
    transport has made it durable."""

    def __init__(self, store: Repository, transport: Transport) -> None:
        self.store, self.transport = store, transport
        self.accepted: list[str] = []
        self.sent = 0

    def accept(self, reply_id: str) -> None:
        self.accepted.append(reply_id)
        if len(self.accepted) >= self.transport.batch:
            self.settle()

    def settle(self) -> None:
        if self.accepted:
            self.transport.flush()
            self.store.mark_sent(*self.accepted)
            self.sent += len(self.accepted)
            self.accepted.clear()


def deliver(store: Repository, transport: Transport, sender: str) -> OutboxRun:
    """Send every queued reply. Replies are claimed ``transport.batch`` at a time in one
    commit, and the sent ones settled in batches of the same size: made durable by the
    transport, then marked sent in one commit."""
    settlement = _Settlement(store, transport)
    deferred = 0
    store.register()  # a worker, for its claims
    queued = store.queued_replies()
    held: list[str] = []  # claimed, not yet handed to the transport
    try:
        for start in range(0, len(queued), transport.batch):
            batch = queued[start:start + transport.batch]
            claimed = store.claim_replies(*(reply.id for reply in batch))
            held = [reply.id for reply in batch if reply.id in claimed]
            for offset, reply in enumerate(batch):
                if reply.id not in claimed:  # sent meanwhile, or another process does
                    continue
                held.remove(reply.id)
                try:
                    deferred += _send(store, transport, sender, reply, settlement)
                except ServerError as error:  # no reply can go now: the rest wait
                    store.mark_attempt_failed(reply.id, str(error))
                    store.release_replies(*held)
                    left = deferred + len(queued) - start - offset
                    _log_stop(error, left)
                    settlement.settle()
                    return OutboxRun(settlement.sent, left, error)
        settlement.settle()
    except ServerError as error:  # a batch could not be made durable: it stays queued
        log.warning("%d replies not made durable, they stay queued: %s",
                    len(settlement.accepted), error)
        store.release_replies(*held)
        return OutboxRun(settlement.sent, len(store.queued_replies()), error)
    return OutboxRun(settlement.sent, deferred)


def _send(store: Repository, transport: Transport, sender: str, reply: ReplyRecord,
          settlement: _Settlement) -> bool:
    """Hand one claimed reply to the transport and settle what it answered; True when it
    was deferred (it stays queued). A :class:`ServerError` means no reply can go now."""
    delivery = transport.send(reply.id, sender, reply.recipient, reply.body)
    if delivery.outcome is Outcome.SENT:
        log.info("reply %s sent to %s", reply.id, reply.recipient)
        settlement.accept(reply.id)
        return False
    refused = delivery.outcome is Outcome.REFUSED
    store.mark_attempt_failed(reply.id, delivery.answer, permanent=refused)
    log.warning("reply %s to %s %s: %s", reply.id, reply.recipient,
                "refused" if refused else "stays queued for the next run", delivery.answer)
    return not refused


def _log_stop(error: ServerError, left: int) -> None:
    if isinstance(error, AccountError):
        log.error("SMTP delivery stopped, %d replies stay queued: %s", left, error)
    else:
        log.warning("delivery stopped, %d replies stay queued: %s", left, error)
