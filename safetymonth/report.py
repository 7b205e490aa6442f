"""Per-unit status, read through the repository (``safetymonth report``; the summary's intake
table; later the console).

The shape of :func:`build_report` is the ``report --json`` contract of DESIGN.md. A duplicate
delivery is one message record, so it counts once; a suspicious (failed-authentication)
message is credited to no unit, and neither is a machine message (RFC 3834: an auto-reply, a
bounce, a list), which is listed under ``not_credited``.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from safetymonth.config import Completion, Config, Unit
from safetymonth.storage.overview import Overview
from safetymonth.storage.repository import Repository, UnitStatus, open_repository

KIND_LABELS = {"document": "活动总结", "photo": "照片", "video": "视频"}
KIND_ORDER = ("document", "video", "photo")


@dataclass(frozen=True)
class UnitProgress:
    """A unit's counts (:class:`UnitStatus`) judged against the completion rule."""

    name: str
    submissions: int = 0
    documents_ok: int = 0
    documents_failed: int = 0
    photos_ok: int = 0
    photos_failed: int = 0
    videos_ok: int = 0
    videos_failed: int = 0
    complete: bool = False
    last_submission: str | None = None
    missing: list[str] = field(default_factory=list)


def unit_progress(repository: Repository, name: str, completion: Completion) -> UnitProgress:
    """What ``name`` has sent, counted across all its credited messages, and what it lacks."""
    return judge(repository.unit_status(name), completion)


def judge(status: UnitStatus, completion: Completion) -> UnitProgress:
    """A unit's counts against the completion rule: complete or not, and what it lacks."""
    needed = _needed(completion)
    have = {"document": status.documents_ok, "photo": status.photos_ok,
            "video": status.videos_ok}
    lacking = [KIND_LABELS[kind] for kind in KIND_ORDER if have[kind] < needed[kind]]
    return UnitProgress(**asdict(status), complete=not lacking, missing=lacking)


def unit_id(unit: Unit) -> str:
    """A unit's stable id in URLs and JSON: ``units[].id`` where set, else its name."""
    return str(getattr(unit, "id", None) or unit.name)


def missing(repository: Repository, name: str, completion: Completion) -> list[str]:
    """What ``name`` still lacks to be complete (``unit_progress(...).missing``), without
    counting everything it has sent: each query stops once the needed number is found."""
    needed = _needed(completion)
    return [KIND_LABELS[kind] for kind in KIND_ORDER
            if not repository.has_accepted(name, kind, needed[kind])]


def _needed(completion: Completion) -> dict[str, int]:
    return {"document": completion.documents, "photo": completion.photos,
            "video": completion.videos}


def build_report(config: Config) -> dict[str, Any]:
    """The ``report --json`` object: every configured unit, with what it has submitted."""
    with open_repository(config) as repository:
        return report_from_repository(repository, config)


def intake_rows(config: Config) -> list[dict[str, Any]]:
    """The summary's intake table (one row per unit, as in ``report --json``)."""
    return list(build_report(config)["units"])


def report_from_repository(repository: Repository, config: Config) -> dict[str, Any]:
    statuses = Overview(repository).unit_statuses(unit.name for unit in config.units)
    units = []
    for unit in config.units:
        status = {"id": unit_id(unit),
                  **asdict(judge(statuses[unit.name], config.campaign.completion))}
        del status["missing"]
        units.append(status)
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
    }


CSV_COLUMNS = ["name", "submissions", "documents_ok", "photos_ok", "photos_failed",
               "videos_ok", "videos_failed", "complete", "last_submission"]


def write_csv(report: dict[str, Any], path: Path) -> None:
    """The unit table for a spreadsheet (UTF-8 with BOM, which Excel and WPS expect)."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        write_csv_to(report, out)


def write_csv_to(report: dict[str, Any], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(report["units"])


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table for the terminal."""
    lines = ["单位                      提交  总结  照片合格/不合格  视频合格/不合格  完成"]
    for unit in report["units"]:
        lines.append(
            f"{_pad(unit['name'], 26)}{unit['submissions']:>4}  {unit['documents_ok']:>4}  "
            f"{unit['photos_ok']:>7}/{unit['photos_failed']:<7}  "
            f"{unit['videos_ok']:>7}/{unit['videos_failed']:<7}  "
            f"{'是' if unit['complete'] else '否'}")
    if report["not_sent"]:
        lines.append("未提交：" + "、".join(report["not_sent"]))
    for sender in report["unknown_senders"]:
        lines.append(f"未登记的发件人：{sender['address']}（{sender['messages']} 封）")
    for item in report["suspicious"]:
        lines.append(f"可疑邮件（未计入）：{item['sender']} {item['message_id']} {item['reason']}")
    for item in report["not_credited"]:
        # A machine's mail (auto-reply, bounce, list) or one with no usable From address.
        lines.append(f"未计入（自动回复、退信或无发件人地址）：{item['sender'] or '（无发件人）'} "
                     f"{item['message_id']} {item['reason']}")
    for item in report["failed"]:
        lines.append(f"处理失败：{item['sender']} {item['subject']!r} {item['error']}")
    return "\n".join(lines)


def _pad(text: str, width: int) -> str:
    shown = sum(2 if ord(char) > 0x2E80 else 1 for char in text)
    return text + " " * max(1, width - shown)
