"""Digest replies: a registered unit's submissions over the reply rate limit are held (see
:mod:`safetymonth.mailbox.triage`) and answered together, in one reply per sender and
window, once the window has ended.

The poll loop calls :func:`queue_due_digests` on every pass (``poll --once`` from cron after
the window queues it; ``watch`` wakes at :func:`seconds_to_next_digest`). Exactly once with
any number of pollers: the digest's id is derived from its sender, window and first message,
and the repository queues it only while none of its messages is answered yet.
"""

from __future__ import annotations

import logging
from itertools import groupby

from safetymonth.config import Config, Unit
from safetymonth.mailbox import owing
from safetymonth.mailbox.replies import HeldMessage, compose_digest, digest_id
from safetymonth.report import local_time
from safetymonth.storage.repository import TOO_LARGE, MessageRecord, Repository
from safetymonth.targets import credit_targets
from safetymonth.uploads.links import unit_link

log = logging.getLogger("safetymonth.digest")
MIN_WAIT = 1.0


def queue_due_digests(config: Config, store: Repository) -> int:
    """Queue the digest of every window that has ended; returns how many were queued."""
    due = sorted((row for row in store.due_digests() if row.sender),
                 key=lambda row: (str(row.sender).lower(), str(row.held_until), row.id))
    queued = 0
    for (recipient, until), rows in groupby(
            due, key=lambda row: (str(row.sender).lower(), str(row.held_until))):
        queued += _queue_one(config, store, recipient, until, list(rows))
    return queued


def _queue_one(config: Config, store: Repository, recipient: str, until: str,
               rows: list[MessageRecord]) -> bool:
    unit = _unit_of(config, store, rows[0])
    zone = config.campaign.timezone
    held = [HeldMessage(subject=row.subject or "", received=local_time(row.received_at, zone),
                        message_id=row.message_id, too_large=row.state == TOO_LARGE,
                        verdicts=[verdict for item in store.attachments(row.id)
                                  for verdict in item.verdicts]) for row in rows]
    lacking = owing.lacking(config, store, unit.key, store.clock())[0] if unit else []
    ident = digest_id(unit.key if unit else None, recipient, until, rows[0].id)
    link = unit_link(config, store, unit) if unit else None
    outgoing = compose_digest(config, ident, recipient, unit.name if unit else None, held,
                              lacking, held[0].received, local_time(until, zone), link)
    if not store.queue_digest(ident, unit.key if unit else None, recipient, outgoing.headers,
                              outgoing.data, [row.id for row in rows]):
        return False  # another poller queued it, or answered some of them meanwhile
    log.info("digest queued to %s for %d held messages (#%s)", recipient, len(rows),
             ", #".join(str(row.id) for row in rows))
    return True


def _unit_of(config: Config, store: Repository, row: MessageRecord) -> Unit | None:
    """The unit the held message is credited to now (else the one it was held for)."""
    key = store.credited_unit(row.id)
    targets = credit_targets(config)  # a group's own address is answered as the group
    return next((unit for unit in targets if unit.key == key), None) or \
        next((unit for unit in targets if unit.key == row.unit), None)


def seconds_to_next_digest(store: Repository, longest: float) -> float:
    """How long a watcher may wait before a held message's window ends (at most
    ``longest``; at least a second, so that a digest that cannot be queued never spins)."""
    due = store.next_digest_due()
    if due is None:
        return longest
    return min(longest, max(MIN_WAIT, (due - store.clock()).total_seconds()))
