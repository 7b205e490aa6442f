"""What a reply and a reminder say per deliverable (configured ``campaign.deliverables``):
each deliverable still owed with its own deadline, overdue ones worded 已逾期, and what each
file of a message counts for, a late one marked as such (it still counts).

A campaign of ``completion:`` alone keeps the wording it always had: these are used only
when deliverables are configured.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from safetymonth.assigning import assign
from safetymonth.config import Config
from safetymonth.deliverables import deadline_of, deliverables_of
from safetymonth.owed import OVERDUE, Owed, Standing, cutoff, keys_of
from safetymonth.report import missing
from safetymonth.storage.repository import Repository
from safetymonth.targets import group_of_key

KINDS = ("document", "photo", "video")


def day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def by_deliverable(config: Config) -> bool:
    """Whether replies and reminders speak per deliverable (deliverables are configured)."""
    return config.campaign.deliverables is not None


def still_owed(config: Config, store: Repository, key: str, at: datetime) -> list[Owed]:
    """What the unit (or group) keyed ``key`` has not done at ``at``, from its files alone."""
    standing = Standing(store, config, at, keys_of(config, key))
    group = group_of_key(key)
    return standing.group_missing(group) if group else standing.missing(key)


def lacking(config: Config, store: Repository, key: str,
            at: datetime) -> tuple[list[str], list[Owed] | None]:
    """What the unit (or group) keyed ``key`` still lacks at ``at``, as a reply, a digest and
    the unit's page all say it: the names to list, and the deliverables owed with their
    deadlines (None with the ``completion:`` shorthand, whose names are kinds of file)."""
    if not by_deliverable(config):
        return missing(store, key, config.campaign.completion), None
    owed = still_owed(config, store, key, at)
    return [item.name for item in owed], owed


def owed_lines(owed: list[Owed]) -> list[dict[str, Any]]:
    """The template's ``owed``: each deliverable's name, deadline (in Chinese) and whether
    it is overdue."""
    return [{"name": item.name, "deadline": day(date.fromisoformat(item.deadline)),
             "overdue": item.status == OVERDUE} for item in owed]


def deadlines_text(config: Config) -> str:
    """``经验做法 2024年6月5日、活动情况总结 2024年6月24日``: every deliverable's deadline."""
    return "、".join(f"{item.name} {day(deadline_of(item, config.campaign))}"
                    for item in deliverables_of(config.campaign))


def file_notes(config: Config, key: str | None, verdicts: list[dict[str, Any]],
               subject: str | None, received: datetime) -> list[str | None]:
    """For each accepted file of a message (its verdicts), what it counts for by the
    assignment rule, and whether it came after that deliverable's deadline (late: it counts,
    marked so); None for a failed file or one of no kind a deliverable takes."""
    deliverables = deliverables_of(config.campaign)
    if group_of_key(key) is not None:  # a group's own mail counts for its deliverables only
        deliverables = [item for item in deliverables if item.owed_by == "group"]
    by_id = {item.id: item for item in deliverables}
    notes: list[str | None] = []
    for verdict in verdicts:
        if not verdict.get("ok") or verdict.get("kind") not in KINDS:
            notes.append(None)
            continue
        ident = assign(verdict["kind"], verdict["path"], subject, deliverables)
        if ident is None:
            notes.append("未能判断计入哪项材料（可在文件名或邮件主题中写明材料名称），"
                         "工作人员将人工归类")
            continue
        item = by_id[ident]
        deadline = deadline_of(item, config.campaign)
        if received >= cutoff(deadline, config.campaign.timezone):
            notes.append(f"计入“{item.name}”；已过该项截止日期（{day(deadline)}），"
                         f"仍予计入，记为逾期提交")
        else:
            notes.append(f"计入“{item.name}”")
    return notes
