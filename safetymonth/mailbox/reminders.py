"""``safetymonth remind``: a reminder to every incomplete unit before the deadline, at most once
per unit per ``campaign.reminder_interval_days``; with ``campaign.deliverables`` configured, per
deliverable as :mod:`~safetymonth.mailbox.owed_reminders` says."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from safetymonth.config import Config, Unit
from safetymonth.mailbox import owed_reminders, owing
from safetymonth.mailbox.replies import compose_reminder
from safetymonth.owed import Owed
from safetymonth.report import local_time, unit_progress
from safetymonth.storage.repository import Repository, open_repository
from safetymonth.uploads.links import unit_link

log = logging.getLogger("safetymonth.remind")


@dataclass
class Planned:
    """One incomplete unit: who would get a reminder, what it lacks, and (in Chinese, as
    the clerk reads it) why none goes out now."""

    unit: Unit
    recipients: list[str]
    missing: list[str]
    skipped: str | None = None
    owed: list[Owed] = field(default_factory=list)  # per deliverable, when configured

    def describe(self, dry_run: bool) -> str:
        """One line for ``remind``'s output, as a clerk reads it."""
        if self.skipped:
            return f"{self.unit.name}：跳过，{self.skipped}（还缺 {'、'.join(self.missing)}）"
        action = "将催报" if dry_run else "已催报"
        return (f"{self.unit.name}：{action} {'、'.join(self.recipients)}"
                f"（还缺 {'、'.join(self.missing)}）")


def plan_reminders(config: Config, repository: Repository, today: date,
                   overdue: bool = False) -> list[Planned]:
    """One entry per incomplete unit: who gets a reminder, or why none is due. After the
    deadline only ``overdue`` chases them (still at most once per interval)."""
    if owing.by_deliverable(config):
        return _plan_owed(config, repository, today)
    plans = []
    for unit in config.units:
        progress = unit_progress(repository, unit, config.campaign.completion)
        if progress.complete:
            continue
        plan = Planned(unit, recipients(repository, unit), progress.missing)
        plan.skipped = _why_not(config, repository, unit.key, today, plan.recipients,
                                overdue)
        plans.append(plan)
    return plans


def _plan_owed(config: Config, repository: Repository, today: date) -> list[Planned]:
    """Per deliverable: every unit (or group) that still owes something."""
    now = repository.clock()
    plans = []
    for target in owed_reminders.targets(config):
        addresses = recipients(repository, target)
        owed, skipped = owed_reminders.plan(config, repository, today, now, addresses, target)
        if owed:
            plans.append(Planned(target, addresses, [item.name for item in owed], skipped,
                                 owed))
    return plans


def _why_not(config: Config, repository: Repository, unit: str, today: date,
             recipients: list[str], overdue: bool) -> str | None:
    if today > config.campaign.deadline and not overdue:
        return "已过截止日期（逾期的单位用 remind --overdue 催报）"
    if not recipients:
        return "没有可用的收件地址（只登记了域名，且尚未收到该单位的邮件）"
    last = repository.last_reply_at(unit, "reminder")
    interval = timedelta(days=config.campaign.reminder_interval_days)
    if last and datetime.now(UTC) - datetime.fromisoformat(last) < interval:
        return f"已于 {local_time(last, config.campaign.timezone)} 催报过"
    return None


def recipients(repository: Repository, unit: Unit) -> list[str]:
    """The unit's registered addresses; for a domain-only unit, its latest real sender."""
    exact = [address for address in unit.emails if not address.startswith("@")]
    if exact:
        return exact
    latest = repository.latest_unit_sender(unit.key)
    return [latest] if latest else []


def queue_reminders(config: Config, repository: Repository, today: date | None = None,
                    dry_run: bool = False, overdue: bool = False) -> list[Planned]:
    today = today or datetime.now(ZoneInfo(config.campaign.timezone)).date()
    plans = plan_reminders(config, repository, today, overdue)
    for plan in plans:
        if plan.skipped or dry_run:
            continue
        progress = None if plan.owed else \
            unit_progress(repository, plan.unit, config.campaign.completion)
        with repository.transaction():
            link = unit_link(config, repository, plan.unit)
            for recipient in plan.recipients:
                outgoing = compose_reminder(config, recipient, progress, today, link) \
                    if progress else owed_reminders.compose(config, plan.unit, recipient,
                                                            plan.owed, today, link)
                repository.queue_reply(outgoing.id, None, "reminder", plan.unit.key,
                                       recipient, outgoing.headers, outgoing.data)
        log.info("reminder queued for %s to %s", plan.unit.name, ", ".join(plan.recipients))
    return plans


@dataclass(frozen=True)
class Reminded:
    """What ``safetymonth remind`` did: one plan per incomplete unit, and how many replies
    (reminders among them) stayed queued because the outbox failed."""

    plans: list[Planned]
    left: int


def remind(config: Config, dry_run: bool = False, overdue: bool = False) -> Reminded:
    """Queue the reminders that are due, then send the queue (unless ``dry_run``)."""
    from safetymonth.mailbox.service import send_queued

    with open_repository(config) as store:
        plans = queue_reminders(config, store, dry_run=dry_run, overdue=overdue)
        left = 0 if dry_run else send_queued(config, store).left
    return Reminded(plans, left)
