"""Triage of a message coming in: who is credited (by :mod:`safetymonth.crediting`, the rule
the store's credit columns follow too), whether a machine wrote it, and whether a reply is
due: one pure function of the parsed message, the configuration and how many replies the
sender got lately.

Intake persists the :class:`Triage` and queues the reply when one is due; nothing here reads
the store or the network, so every rule can be tested from a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from safetymonth.config import Mailbox, Unit
from safetymonth.crediting import PROCESSED, Facts, credited_unit
from safetymonth.mailbox import auth
from safetymonth.mailbox.autoreply import no_reply_reason
from safetymonth.mailbox.parse import ParsedMail
from safetymonth.mailbox.units import listing_units

# The rate limit guards against loops, not units: a registered unit's submission over it is
# held, and answered with the others of its window in one digest reply when the window ends.
HELD_FOR_DIGEST = "held for digest"


@dataclass(frozen=True)
class Triage:
    unit: str | None  # the key of the unit credited with the submission (None: nobody)
    claimed_unit: str | None  # the name of the unit its From matches, credited or not
    auth: str  # what Authentication-Results said
    suspicious: str | None  # authentication failed: kept, listed, credited to no unit
    machine: str | None  # RFC 3834: a machine wrote it (auto-reply, bounce, list, ...)
    no_reply: str | None  # why no reply goes out; None: a reply is due
    held: bool = False  # over the rate limit, but a unit's: answered by the window's digest
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def not_credited(self) -> str | None:
        """Why a message that is not suspicious counts for no unit (a machine wrote it)."""
        return None if self.suspicious else self.machine


def triage(mail: ParsedMail, mailbox: Mailbox, units: list[Unit],
           recent_replies: int) -> Triage:
    """The triage of ``mail``; ``recent_replies`` is how many replies its sender got within
    ``mailbox.reply_rate_limit.hours``. Over the limit, a registered unit's submission is
    held for the digest; anyone else's (an unknown sender's flood) gets nothing. Credit is
    the message's once processed (a too-large one is answered as its unit's all the same),
    before any coordinator's decision."""
    result = auth.evaluate(mail.get_all("Authentication-Results"), mailbox.trusted_authserv_ids)
    exact, domain = listing_units(mail.sender, units)
    claimed = exact or domain
    suspicious = f"authentication failed: {result.detail}" if result.failed else None
    machine = no_reply_reason(mail, mailbox.address)
    limit = mailbox.reply_rate_limit
    rate_limited = f"rate limit: {limit.count} replies within {limit.hours} h, " \
        "not a registered unit" if mail.sender and recent_replies >= limit.count else None
    unit = credited_unit(Facts(
        decision=None, decided=None, state=PROCESSED, suspicious=suspicious, machine=machine,
        exact=exact.key if exact else None, domain=domain.key if domain else None))
    held = bool(rate_limited and unit)
    return Triage(
        unit=unit,
        claimed_unit=claimed.name if claimed else None,
        auth=result.detail or result.status,
        suspicious=suspicious,
        machine=machine,
        no_reply=suspicious or machine or (HELD_FOR_DIGEST if held else rate_limited),
        held=held,
        notes={"defects": sorted(set(mail.defects)),
               "claimed_unit": claimed.name if claimed else None,
               "cloud_links": [link.url for link in mail.cloud_links]})
