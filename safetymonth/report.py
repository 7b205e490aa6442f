"""Per-unit status, read through the repository (``safetymonth report``; the summary's intake
table; later the console).

The shape of :func:`build_report` is the ``report --json`` contract of DESIGN.md. A duplicate
delivery is one message record, so it counts once; a suspicious (failed-authentication)
message is credited to no unit, and neither is a machine message (RFC 3834: an auto-reply, a
bounce, a list), which is listed under ``not_credited``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from safetymonth import owed_tables
from safetymonth.cloudlist import cloud_links
from safetymonth.config import Completion, Config, Unit
from safetymonth.owed import Standing, groups_rows
from safetymonth.reasons import reason_label
from safetymonth.spreadsheet import write_csv, write_xlsx
from safetymonth.storage.credit import Tally
from safetymonth.storage.overview import Overview
from safetymonth.storage.repository import MessageRecord, Repository, open_repository
from safetymonth.targets import GROUP_PREFIX, credit_targets
from safetymonth.zone import local_datetime


@lru_cache(maxsize=8192)  # the board shows 2,000 units' last submissions on every change
def local_time(value: str | None, zone: str) -> str:
    """A stored UTC time (ISO 8601) as ``YYYY-MM-DD HH:MM`` in the time zone ``zone``."""
    if not value:
        return ""
    return f"{datetime.fromisoformat(value).astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"


KIND_LABELS = {"document": "活动总结", "photo": "照片", "video": "视频"}
KIND_ORDER = ("document", "video", "photo")


@dataclass(frozen=True)
class UnitProgress(Tally):
    """A unit's counts (:class:`Tally`) judged against the completion rule."""

    name: str = ""
    id: str = ""
    complete: bool = False
    missing: list[str] = field(default_factory=list)


def progress_row(progress: UnitProgress) -> dict[str, Any]:
    """``progress`` as a unit of ``report --json``, its keys in the order they always had."""
    # vars, not asdict (its deep copy is slow), as in judge()
    row = {"name": progress.name, "id": progress.id, **vars(progress),
           "missing": list(progress.missing)}
    judged = {key: row.pop(key) for key in ("complete", "last_submission", "missing")}
    return {**row, **judged}


def judge(unit: Unit, tally: Tally, completion: Completion) -> UnitProgress:
    """``unit``'s tally against the completion rule: complete or what it lacks."""
    needed = _needed(completion)
    have = {"document": tally.documents_ok, "photo": tally.photos_ok,
            "video": tally.videos_ok}
    lacking = [KIND_LABELS[kind] for kind in KIND_ORDER if have[kind] < needed[kind]]
    # vars(), not asdict(): the tally's fields are plain values, and asdict's deep copy was
    # half the board's cost with 2,000 units.
    return UnitProgress(name=unit.name, id=unit.key, **vars(tally), complete=not lacking,
                        missing=lacking)


def unit_progress(repository: Repository, unit: Unit, completion: Completion) -> UnitProgress:
    """What ``unit`` has sent, counted across all its credited messages, and what it lacks."""
    return judge(unit, repository.unit_tally(unit.key), completion)


def missing(repository: Repository, unit: str, completion: Completion) -> list[str]:
    """What the unit keyed ``unit`` still lacks (``unit_progress(...).missing``), from its
    accepted files alone (one grouped query, not the unit's whole tally)."""
    needed = _needed(completion)
    have = repository.accepted_counts(unit)
    return [KIND_LABELS[kind] for kind in KIND_ORDER if have.get(kind, 0) < needed[kind]]


def _needed(completion: Completion) -> dict[str, int]:
    return {"document": completion.documents, "photo": completion.photos,
            "video": completion.videos}


def build_report(config: Config) -> dict[str, Any]:
    """The ``report --json`` object: every configured unit, with what it has submitted."""
    with open_repository(config) as repository:
        return report_from_repository(repository, config)


def intake_rows(config: Config) -> list[dict[str, Any]]:
    """The summary's intake table from the store (:func:`summary_rows` of the report)."""
    return summary_rows(build_report(config), config)


def summary_rows(report: dict[str, Any], config: Config) -> list[dict[str, Any]]:
    """The summary's intake table: one row per unit of ``report`` (``report --json``), each
    with its group's name (``group_name``) for the table's 所属 column; a column per
    deliverable only when ``campaign.deliverables`` names them. The command line and the
    console both print this, so they make the same document."""
    names = {group.id: group.name for group in config.groups}
    rows = [{**row, "group_name": names.get(row.get("group") or "")}
            for row in report["units"]]
    if config.campaign.deliverables is None:  # the shorthand's table: by kind, as it was
        rows = [{key: value for key, value in row.items() if key != "deliverables"}
                for row in rows]
    return rows


def progress_of_all(repository: Repository, config: Config,
                    standing: Standing | None = None) -> list[UnitProgress]:
    """Every configured unit's progress, in the config's order (one grouped query). With
    configured deliverables, complete means each of the unit's own deliverables done."""
    tallies = repository.unit_tallies()
    found = [judge(unit, tallies.get(unit.key, Tally()), config.campaign.completion)
             for unit in config.units]
    if config.campaign.deliverables is None:
        return found  # completion's shorthand: the kinds' counts, as always
    standing = standing or Standing(repository, config)
    return [by_deliverables(progress, standing) for progress in found]


def by_deliverables(progress: UnitProgress, standing: Standing) -> UnitProgress:
    """``progress`` judged by the unit's own deliverables."""
    lacking = [owed.name for owed in standing.missing(progress.id)]
    return replace(progress, complete=not lacking, missing=lacking)


def report_from_repository(repository: Repository, config: Config,
                           at: datetime | None = None) -> dict[str, Any]:
    """The ``report --json`` object; ``at``: the moment deadlines are judged against
    (default now)."""
    standing = Standing(repository, config, at)
    progress = progress_of_all(repository, config, standing)
    units = [progress_row(item) for item in progress]
    groups = {unit.key: unit.group for unit in config.units}
    unanswered = repository.unanswered_messages()
    waiting = Overview(repository).unanswered()  # the board's count: one definition
    decided = repository.active_decisions_by_unit()
    queued = repository.queued_replies_by_unit()
    for unit in units:
        unit["decisions"] = decided.get(unit["id"], 0)
        unit["unanswered"] = waiting.get(unit["id"], 0)
        unit["queued_replies"] = queued.get(unit["id"], 0)
        unit["group"] = groups.get(unit["id"])
        unit["deliverables"] = [owed.row() for owed in standing.of_unit(unit["id"])]
    names = {unit.key: unit.name for unit in credit_targets(config)}
    return {
        "units": units,
        "unknown_senders": [asdict(sender) for sender in repository.unknown_senders()],
        "suspicious": [{"sender": item.sender, "message_id": item.message_id,
                        "reason": item.suspicious}
                       for item in repository.suspicious_messages()],
        "not_credited": [{"sender": item.sender, "message_id": item.message_id,
                          "claimed_unit": item.claimed_unit, "reason": item.not_credited}
                         for item in repository.machine_messages()],
        "not_sent": [unit["name"] for unit in units if unit["submissions"] == 0],
        "failed": [{"source_key": item.source_key, "sender": item.sender,
                    "subject": item.subject, "state": item.state, "error": item.last_error}
                   for item in repository.failed_messages()],
        "unanswered": [_unanswered(item, config.campaign.timezone) for item in unanswered],
        "queued_replies": repository.queued_reply_count(),
        "decisions": repository.active_decisions(),
        "bounces": [{**bounce, "message_id": item.message_id}
                    for item in repository.bounce_reports() for bounce in item.bounces],
        "groups": groups_rows(standing, {item.id: item.complete for item in progress}),
        "unassigned": [{"file": ident, "unit": names.get(unit, unit), "name": name}
                       for ident, unit, name in repository.unassigned_files(
                           [item.id for item in standing.unit_owed], GROUP_PREFIX)],
        "cloud_links": cloud_links(repository, config),
    }


def _unanswered(item: MessageRecord, zone: str) -> dict[str, Any]:
    """A message that got no reply (yet), with why; one held for its unit's digest says
    until when (local time), and ``held_until`` gives it in UTC."""
    reason = item.no_reply
    if item.held_until:
        reason = f"{reason} until {local_time(item.held_until, zone)[-5:]}"
    return {"id": item.id, "sender": item.sender, "message_id": item.message_id,
            "unit": item.claimed_unit, "subject": item.subject,
            "received": item.received_at, "reason": reason, "held_until": item.held_until}


# The clerks' table (report --csv and --xlsx): Chinese headers, 是/否, local times.
CLERK_COLUMNS = [("name", "单位"), ("id", "单位编号"), ("submissions", "提交邮件"),
                 ("documents_ok", "总结合格"), ("documents_failed", "总结不合格"),
                 ("photos_ok", "照片合格"), ("photos_failed", "照片不合格"),
                 ("videos_ok", "视频合格"), ("videos_failed", "视频不合格"),
                 ("complete", "材料齐全"), ("missing", "缺少"),
                 ("last_submission", "最后提交时间"), ("decisions", "人工决定"),
                 ("unanswered", "未回复邮件"), ("queued_replies", "待发回复")]


def clerk_rows(report: dict[str, Any], zone: str) -> list[list[object]]:
    """The unit table of ``report`` as a clerk reads it."""
    rows = []
    for unit in report["units"]:
        row: list[object] = []
        for key, _ in CLERK_COLUMNS:
            value = unit[key]
            if isinstance(value, bool):
                value = "是" if value else "否"
            elif key == "missing":
                value = "、".join(value)
            elif key == "last_submission":
                value = local_datetime(value, zone)  # a date cell in the .xlsx
            row.append(value)
        rows.append(row + owed_tables.unit_cells(unit))
    return rows


def clerk_headers(report: dict[str, Any]) -> list[str]:
    """The clerks' columns, then one per deliverable."""
    return [title for _, title in CLERK_COLUMNS] + owed_tables.unit_headers(report)


def write_clerk_csv(report: dict[str, Any], path: Path, zone: str) -> None:
    write_csv(path, clerk_headers(report), clerk_rows(report, zone))


def write_clerk_xlsx(report: dict[str, Any], path: Path, zone: str) -> None:
    with path.open("wb") as out:
        clerk_xlsx(report, out, zone)


def clerk_xlsx(report: dict[str, Any], out: BinaryIO, zone: str) -> None:
    """The clerks' table as an .xlsx workbook, written to ``out`` (``report --xlsx``), then
    a sheet per group."""
    write_xlsx(out, "材料报送情况", clerk_headers(report), clerk_rows(report, zone),
               owed_tables.group_sheets(report))


def format_report(report: dict[str, Any], zone: str) -> str:
    """A plain-text table for the terminal (times in ``zone``)."""
    lines = ["单位                      提交  总结  照片合格/不合格  视频合格/不合格  完成  "
             "最后提交"]
    for unit in report["units"]:
        lines.append(
            f"{_pad(unit['name'], 26)}{unit['submissions']:>4}  {unit['documents_ok']:>4}  "
            f"{unit['photos_ok']:>7}/{unit['photos_failed']:<7}  "
            f"{unit['videos_ok']:>7}/{unit['videos_failed']:<7}  "
            f"{'是' if unit['complete'] else '否'}    "
            f"{local_time(unit['last_submission'], zone) or '-'}")
    lines += owed_tables.terminal_lines(report)
    if report["not_sent"]:
        lines.append("未提交：" + "、".join(report["not_sent"]))
    for sender in report["unknown_senders"]:
        lines.append(f"未登记的发件人：{sender['address']}（{sender['messages']} 封）")
    for item in report["suspicious"]:
        lines.append(f"可疑邮件（未计入）：{item['sender']} {item['message_id']} "
                     f"{reason_label(item['reason'])}")
    for item in report["not_credited"]:
        # A machine's mail (auto-reply, bounce, list) or one with no usable From address.
        lines.append(f"未计入（自动回复、退信或无发件人地址）：{item['sender'] or '（无发件人）'} "
                     f"{item['message_id']} {reason_label(item['reason'])}")
    for item in report["unanswered"]:
        lines.append(f"未回复：#{item['id']} {item['sender'] or '（无发件人）'} "
                     f"{local_time(item['received'], zone)} {item['subject']!r} "
                     f"{reason_label(item['reason'])}")
    if report["queued_replies"]:
        lines.append(f"待发回复：{report['queued_replies']} 封")
    if report["decisions"]:
        lines.append(f"人工决定：{report['decisions']} 项（safetymonth history）")
    for item in report["failed"]:
        lines.append(f"处理失败：{item['sender']} {item['subject']!r} {item['error']}")
    for item in report["bounces"]:
        lines.append(f"退信（回复或提醒未送达）：{item['unit'] or '（未登记单位）'} "
                     f"{item['address']} {item['status']} {item['diagnostic']}")
    return "\n".join(lines)


def _pad(text: str, width: int) -> str:
    shown = sum(2 if ord(char) > 0x2E80 else 1 for char in text)
    return text + " " * max(1, width - shown)
