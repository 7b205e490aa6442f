"""Step 5 of intake: a message's :mod:`~safetymonth.mailbox.triage` persisted with its final
state, the bounces a delivery-status report names matched against our own replies, and the
reply queued when one is due, all inside the caller's transaction."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from safetymonth.config import Config, Unit
from safetymonth.mailbox import owing
from safetymonth.mailbox.bounces import delivery_failures
from safetymonth.mailbox.cloudexpiry import cloud_expiry
from safetymonth.mailbox.parse import ParsedMail
from safetymonth.mailbox.replies import compose_reply, reply_id_of
from safetymonth.mailbox.triage import triage
from safetymonth.mailbox.units import match_unit
from safetymonth.report import local_time
from safetymonth.storage.repository import TOO_LARGE, MessageRecord, Outcome, Repository
from safetymonth.targets import credit_targets
from safetymonth.uploads.links import unit_link


def record_triage(config: Config, store: Repository, row: MessageRecord, mail: ParsedMail,
                  verdicts: list[dict[str, Any]], state: str,
                  too_large: int | None = None) -> tuple[str | None, str | None]:
    """Inside the caller's transaction: the triage (:func:`triage`) persisted with the
    message's final state, and the reply queued when one is due. Returns the name of the
    unit credited and why no reply."""
    limit = config.mailbox.reply_rate_limit
    recent = store.replies_since(mail.sender, "reply", limit.hours) if mail.sender else 0
    found = triage(mail, config.mailbox, credit_targets(config), recent)
    held_until = store.rate_window_end(mail.sender, "reply", limit.hours, limit.count) \
        if found.held and mail.sender else None  # answered by the digest then
    notes = dict(found.notes)
    bounces = _bounces(config, store, mail) if found.machine else []
    if bounces:
        notes["bounces"] = bounces
    if mail.cloud_links:
        notes["cloud_expires"] = _cloud_expires(config, row, mail)
    # State first, so the reply's "still missing" counts this message too.
    store.record_outcome(row.id, Outcome(
        state=state, unit=found.unit, auth=found.auth,
        suspicious=found.suspicious, not_credited=found.not_credited,
        no_reply=found.no_reply, notes=notes,
        last_error=row.last_error if state == TOO_LARGE else None,
        held_until=held_until))
    credited = _unit(config, found.unit)
    if found.no_reply is None:
        _queue_reply(config, store, row, mail, credited, verdicts, too_large)
    zone = config.campaign.timezone
    return credited.name if credited else None, (
        f"{found.no_reply} until {local_time(held_until, zone)}" if held_until
        else found.no_reply)


def _cloud_expires(config: Config, row: MessageRecord, mail: ParsedMail) -> str | None:
    """When the mail's cloud links expire (UTC, as the store keeps times), from its body;
    "30天后过期" counts from its Date (else from when it came)."""
    sent = datetime.fromisoformat(row.received_at)
    with suppress(TypeError, ValueError):
        dated = parsedate_to_datetime(mail.date or "")
        sent = dated if dated.tzinfo else sent
    found = cloud_expiry(mail.cloud_body, sent, config.campaign.timezone)
    return found.astimezone(UTC).isoformat(timespec="seconds") if found else None


def _unit(config: Config, key: str | None) -> Unit | None:
    """The unit keyed ``key`` (or the group whose own address it is, as a target)."""
    return next((unit for unit in credit_targets(config) if unit.key == key), None)


def _bounces(config: Config, store: Repository,
             mail: ParsedMail) -> list[dict[str, str | None]]:
    """The failures a DSN reports for our own replies or reminders, or for a unit's
    address: each with the unit whose address bounced (``report`` lists them)."""
    domain = config.mailbox.address.rsplit("@", 1)[-1]
    found = []
    for failure in delivery_failures(mail):
        ours = [(message_id, store.reply(ident))
                for message_id in failure.message_ids
                if (ident := reply_id_of(message_id, domain))]
        reply_message_id, reply = next(((mid, reply) for mid, reply in ours if reply),
                                       (None, None))
        claimed = match_unit(failure.address, config.units)
        known = _unit(config, reply.unit) if reply and reply.unit else None
        replied = known.name if known else reply.unit if reply else None
        unit = replied or (claimed.name if claimed else None)
        if reply is None and unit is None:
            continue  # someone else's message bounced
        found.append({"unit": unit,
                      "address": failure.address or (reply.recipient if reply else None),
                      "reply_message_id": reply_message_id, "status": failure.status,
                      "diagnostic": failure.diagnostic})
    return found


def _queue_reply(config: Config, store: Repository, row: MessageRecord, mail: ParsedMail,
                 credited: Unit | None, verdicts: list[dict[str, Any]],
                 too_large: int | None) -> None:
    received = datetime.fromisoformat(row.received_at)
    lacking, owed, notes = [], None, None
    link = unit_link(config, store, credited) if credited else None
    if credited:
        lacking, still = owing.lacking(config, store, credited.key, received)
        if still is not None:
            owed = owing.owed_lines(still)
            notes = owing.file_notes(config, credited.key, verdicts, mail.subject, received)
    outgoing = compose_reply(config, mail, row.sha256, credited.name if credited else None,
                             verdicts, lacking, received, too_large, owed, notes,
                             upload_link=link)
    store.queue_reply(outgoing.id, row.id, "reply", credited.key if credited else None,
                      outgoing.recipient, outgoing.headers, outgoing.data)


def describe(unit: str | None, no_reply: str | None, files: str = "") -> str:
    """The end of a message's log line."""
    reply = "queued" if no_reply is None else f"none ({no_reply})"
    return f"unit={unit or '-'} {files}reply={reply}"
