"""``safetymonth remind``: a reminder to every incomplete unit before the deadline, at most once
per unit per ``campaign.reminder_interval_days``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from safetymonth.config import Config, Unit
from safetymonth.mailbox.replies import compose_reminder
from safetymonth.report import unit_status
from safetymonth.store import PROCESSED, Store

log = logging.getLogger("safetymonth.remind")


@dataclass
class Planned:
    unit: str
    recipients: list[str]
    missing: list[str]
    skipped: str | None = None


def plan_reminders(config: Config, store: Store, today: date) -> list[Planned]:
    """One entry per incomplete unit: who gets a reminder, or why none is due."""
    plans = []
    for unit in config.units:
        status = unit_status(store, unit.name, config.campaign.completion)
        if status.complete:
            continue
        plan = Planned(unit.name, _recipients(store, unit), status.missing)
        plan.skipped = _why_not(config, store, unit.name, today, plan.recipients)
        plans.append(plan)
    return plans


def _why_not(config: Config, store: Store, unit: str, today: date,
             recipients: list[str]) -> str | None:
    if today > config.campaign.deadline:
        return "deadline passed"
    if not recipients:
        return "no address known (only a domain is registered and nothing was received)"
    last = store.last_reply_for_unit(unit, "reminder")
    interval = timedelta(days=config.campaign.reminder_interval_days)
    if last and datetime.now(UTC) - datetime.fromisoformat(last) < interval:
        return f"reminded at {last}"
    return None


def _recipients(store: Store, unit: Unit) -> list[str]:
    """The unit's registered addresses; for a domain-only unit, its latest real sender."""
    exact = [address for address in unit.emails if not address.startswith("@")]
    if exact:
        return exact
    rows = store.messages("unit = ? AND state = ? AND sender IS NOT NULL", (unit.name, PROCESSED))
    return [rows[-1]["sender"]] if rows else []


def queue_reminders(config: Config, store: Store, today: date | None = None,
                    dry_run: bool = False) -> list[Planned]:
    today = today or date.today()
    plans = plan_reminders(config, store, today)
    for plan in plans:
        if plan.skipped or dry_run:
            continue
        status = unit_status(store, plan.unit, config.campaign.completion)
        with store.transaction():
            for recipient in plan.recipients:
                outgoing = compose_reminder(config, recipient, status, today)
                store.queue_reply(outgoing.id, None, "reminder", plan.unit,
                                  recipient, outgoing.headers, outgoing.data)
        log.info("reminder queued for %s to %s", plan.unit, ", ".join(plan.recipients))
    return plans
