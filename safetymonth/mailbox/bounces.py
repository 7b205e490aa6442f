"""Delivery failures a DSN reports (RFC 3464): which recipient, what status, and which message
bounced, read from a parsed report. Pure: intake matches them against our own replies."""

from __future__ import annotations

from dataclasses import dataclass

from safetymonth.mailbox.headers import message_id_of
from safetymonth.mailbox.parse import ParsedMail
from safetymonth.mailbox.senders import sender_of

DSN_PARTS = ("message/delivery-status", "message/global-delivery-status")


@dataclass(frozen=True)
class Failure:
    """One recipient a message could not be delivered to."""

    address: str | None
    status: str
    diagnostic: str
    message_ids: tuple[str, ...]  # of the message that bounced, as the report names it


def delivery_failures(mail: ParsedMail) -> list[Failure]:
    """The failed recipients of a DSN (Action: failed, or a permanent 5.x.x status when no
    action is given); a delayed or relayed recipient is no failure. The bounced message is
    named by an Original-Message-ID field or the Message-ID of the headers the DSN quotes."""
    failures = []
    for part in mail.reports:
        if part.content_type not in DSN_PARTS:
            continue
        named = [message_id_of(block.get("original-message-id")) for block in part.blocks]
        ids = [found for found in named if found] + mail.embedded_ids
        for block in part.blocks:
            recipient = block.get("final-recipient") or block.get("original-recipient")
            action, status = block.get("action", "").lower(), block.get("status", "")
            permanent = action == "failed" or (not action and status.startswith("5"))
            if recipient is None or not permanent:
                continue
            failures.append(Failure(_address(recipient), status,
                                    block.get("diagnostic-code", ""), tuple(ids)))
    return failures


def _address(field: str) -> str | None:
    """The address of a recipient field: ``rfc822; a@b.cn`` (its type is optional in
    practice)."""
    _, address, _ = sender_of(field.split(";", 1)[-1])
    return address
