"""The outbox loop: every queued reply, claimed, handed to the transport, then settled in the
store by what the transport answered.

A reply is marked sent only after the transport accepted it and made it durable; anything
else leaves it queued for the next run. Each reply is claimed first, so two processes never
hand the same reply to the transport. A reply refused for good is marked refused; one deferred
stays queued, and the others go on. A refused account or an unavailable server stops the run:
the rest stay queued for the next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from safetymonth.mailbox.servers import AccountError, ServerError
from safetymonth.mailbox.transports import Outcome, Transport
from safetymonth.storage.repository import Repository

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
    """Send every queued reply. Sent replies are settled in batches of ``transport.batch``:
    made durable by the transport, then marked sent in one commit."""
    settlement = _Settlement(store, transport)
    deferred = 0
    store.register()  # a worker, for its claims
    queued = store.queued_replies()
    try:
        for index, reply in enumerate(queued):
            if not store.claim_reply(reply.id):  # sent meanwhile, or another process does
                continue
            try:
                delivery = transport.send(reply.id, sender, reply.recipient, reply.body)
            except ServerError as error:  # no reply can go now: the rest wait
                store.mark_attempt_failed(reply.id, str(error))
                left = deferred + len(queued) - index
                _log_stop(error, left)
                settlement.settle()
                return OutboxRun(settlement.sent, left, error)
            if delivery.outcome is Outcome.SENT:
                log.info("reply %s sent to %s", reply.id, reply.recipient)
                settlement.accept(reply.id)
                continue
            refused = delivery.outcome is Outcome.REFUSED
            store.mark_attempt_failed(reply.id, delivery.answer, permanent=refused)
            deferred += not refused
            log.warning("reply %s to %s %s: %s", reply.id, reply.recipient,
                        "refused" if refused else "stays queued for the next run",
                        delivery.answer)
        settlement.settle()
    except ServerError as error:  # a batch could not be made durable: it stays queued
        log.warning("%d replies not made durable, they stay queued: %s",
                    len(settlement.accepted), error)
        return OutboxRun(settlement.sent, len(store.queued_replies()), error)
    return OutboxRun(settlement.sent, deferred)


def _log_stop(error: ServerError, left: int) -> None:
    if isinstance(error, AccountError):
        log.error("SMTP delivery stopped, %d replies stay queued: %s", left, error)
    else:
        log.warning("delivery stopped, %d replies stay queued: %s", left, error)
