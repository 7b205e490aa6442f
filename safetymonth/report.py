"""Per-unit status, read from the store (``safetymonth report``; the summary's intake table).

The shape of :func:`build_report` is the ``report --json`` contract of DESIGN.md. A duplicate
delivery is one message record, so it counts once; a suspicious (failed-authentication)
message is credited to no unit, and neither is a machine message (RFC 3834: an auto-reply, a
bounce, a list), which is listed under ``not_credited``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from safetymonth.config import Completion, Config
from safetymonth.store import FAILED, PROCESSED, TOO_LARGE, Store

KIND_LABELS = {"document": "活动总结", "photo": "照片", "video": "视频"}
KIND_ORDER = ("document", "video", "photo")


@dataclass
class UnitStatus:
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


def unit_status(store: Store, name: str, completion: Completion) -> UnitStatus:
    """What ``name`` has sent, counted across all its credited messages."""
    status = UnitStatus(name=name)
    row = store.db.execute(
        "SELECT count(*), max(received_at) FROM messages WHERE unit = ? AND state = ? "
        "AND suspicious IS NULL", (name, PROCESSED)).fetchone()
    status.submissions, status.last_submission = int(row[0]), row[1]
    for (kind, ok), count in store.unit_tally(name).items():
        if kind in KIND_LABELS:
            attribute = f"{kind}s_{'ok' if ok else 'failed'}"
            setattr(status, attribute, getattr(status, attribute) + count)
    needed = _needed(completion)
    have = {"document": status.documents_ok, "photo": status.photos_ok,
            "video": status.videos_ok}
    status.missing = [KIND_LABELS[kind] for kind in KIND_ORDER if have[kind] < needed[kind]]
    status.complete = not status.missing
    return status


def missing(store: Store, name: str, completion: Completion) -> list[str]:
    """What ``name`` still lacks to be complete (``unit_status(...).missing``), without
    counting everything it has sent: each query stops once the needed number is found."""
    needed = _needed(completion)
    return [KIND_LABELS[kind] for kind in KIND_ORDER
            if not store.unit_has(name, kind, needed[kind])]


def _needed(completion: Completion) -> dict[str, int]:
    return {"document": completion.documents, "photo": completion.photos,
            "video": completion.videos}


def build_report(config: Config) -> dict[str, Any]:
    """The ``report --json`` object: every configured unit, with what it has submitted."""
    with Store(config.storage_dir) as store:
        return report_from_store(store, config)


def report_from_store(store: Store, config: Config) -> dict[str, Any]:
    units = []
    for unit in config.units:
        status = asdict(unit_status(store, unit.name, config.campaign.completion))
        del status["missing"]
        units.append(status)
    unknown = store.db.execute(
        "SELECT sender, count(*) FROM messages WHERE unit IS NULL AND suspicious IS NULL "
        "AND not_credited IS NULL AND sender IS NOT NULL AND state = ? GROUP BY sender "
        "ORDER BY sender", (PROCESSED,)).fetchall()
    suspicious = store.messages("suspicious IS NOT NULL")
    machine = store.messages("not_credited IS NOT NULL")
    failed = store.messages("state IN (?, ?)", (FAILED, TOO_LARGE))
    return {
        "units": units,
        "unknown_senders": [{"address": row[0], "messages": row[1]} for row in unknown],
        "suspicious": [{"sender": row["sender"], "message_id": row["message_id"],
                        "reason": row["suspicious"]} for row in suspicious],
        "not_credited": [{"sender": row["sender"], "message_id": row["message_id"],
                          "claimed_unit": _claimed_unit(row["notes"]),
                          "reason": row["not_credited"]} for row in machine],
        "not_sent": [unit["name"] for unit in units if unit["submissions"] == 0],
        "failed": [{"source_key": row["source_key"], "sender": row["sender"],
                    "subject": row["subject"], "state": row["state"],
                    "error": row["last_error"]} for row in failed],
        "bounces": _bounces(store),
    }


def _bounces(store: Store) -> list[dict[str, Any]]:
    """Our replies and reminders that bounced, as intake read them from the DSNs (each with
    the unit whose address bounced)."""
    found = []
    for row in store.messages("notes LIKE ?", ('%"bounces"%',)):
        try:
            bounces = json.loads(row["notes"]).get("bounces", [])
        except (ValueError, AttributeError):
            continue
        found += [{**bounce, "message_id": row["message_id"]} for bounce in bounces]
    return found


def _claimed_unit(notes: str | None) -> str | None:
    try:
        return json.loads(notes or "{}").get("claimed_unit")
    except (ValueError, AttributeError):
        return None


CSV_COLUMNS = ["name", "submissions", "documents_ok", "photos_ok", "photos_failed",
               "videos_ok", "videos_failed", "complete", "last_submission"]


def write_csv(report: dict[str, Any], path: Path) -> None:
    """The unit table for a spreadsheet (UTF-8 with BOM, which Excel and WPS expect)."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
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
    for item in report["bounces"]:
        lines.append(f"退信（回复或提醒未送达）：{item['unit'] or '（未登记单位）'} "
                     f"{item['address']} {item['status']} {item['diagnostic']}")
    return "\n".join(lines)


def _pad(text: str, width: int) -> str:
    shown = sum(2 if ord(char) > 0x2E80 else 1 for char in text)
    return text + " " * max(1, width - shown)
