"""Reminders per deliverable (configured ``campaign.deliverables``): ``reminders.days_before``
each deliverable's deadline to the units (and groups) lacking it, then every
``reminders.overdue_every_days`` while it is overdue, worded 已逾期; only to those who still
owe it. One reminder per unit at a time names everything it still owes, each with its own
deadline.

When is one due? Let L be the local day of the unit's last reminder. Before a deadline D, the
latest of the days D - n (n in ``days_before``) that has come is a reminder day: due when L
is before it. After D: due when L is none, on or before D, or ``overdue_every_days`` ago.
So a ``remind`` run daily (a timer) reminds on those days, and one that missed a day still
reminds once, late, rather than never.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from safetymonth.config import Config, Unit
from safetymonth.deliverables import deliverables_of
from safetymonth.mailbox import owing
from safetymonth.mailbox.replies import Outgoing, compose_owed_reminder
from safetymonth.owed import Owed
from safetymonth.storage.repository import Repository
from safetymonth.targets import credit_targets, group_of_key
from safetymonth.zone import local_datetime


def due(config: Config, owed: Owed, today: date, last: date | None) -> bool:
    """Whether ``owed`` (not done) calls for a reminder ``today``, the last one on ``last``."""
    deadline = date.fromisoformat(owed.deadline)
    rules = config.campaign.reminders
    if today <= deadline:
        days = [deadline - timedelta(days=n) for n in rules.days_before
                if deadline - timedelta(days=n) <= today]
        return bool(days) and (last is None or last < max(days))
    return last is None or last <= deadline or \
        (today - last).days >= rules.overdue_every_days


def targets(config: Config) -> list[Unit]:
    """Who may owe something: every unit, and each group with an address of its own when
    the campaign has deliverables owed by groups."""
    grouped = any(item.owed_by == "group" for item in deliverables_of(config.campaign))
    return [target for target in credit_targets(config)
            if grouped or group_of_key(target.key) is None]


def plan(config: Config, repository: Repository, today: date, now: datetime,
         recipients: list[str], target: Unit) -> tuple[list[Owed], str | None]:
    """What ``target`` still owes, and why no reminder goes today (None: one is due)."""
    owed = owing.still_owed(config, repository, target.key, now)
    if not owed:
        return [], None
    if not recipients:
        return owed, "没有可用的收件地址（只登记了域名，且尚未收到该单位的邮件）"
    last_at = repository.last_reply_at(target.key, "reminder")
    last_day = local_datetime(last_at, config.campaign.timezone)
    last = last_day.date() if last_day else None
    if last == today:
        return owed, "今天已催报过"
    if not any(due(config, item, today, last) for item in owed):
        return owed, "未到提醒日（截止前 " + "、".join(
            str(n) for n in config.campaign.reminders.days_before) + " 天，逾期后每 " + \
            f"{config.campaign.reminders.overdue_every_days:g} 天）"
    return owed, None


def compose(config: Config, target: Unit, recipient: str, owed: list[Owed],
            today: date, upload_link: str | None = None) -> Outgoing:
    return compose_owed_reminder(config, recipient, target.key, target.name,
                                 owing.owed_lines(owed), today, upload_link)

