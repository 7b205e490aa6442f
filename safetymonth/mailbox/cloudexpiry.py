"""When a cloud attachment's link expires, read from the mail's body: 163 writes
"2026年07月05日 10:30到期", QQ 中转站 "有效期至2026-07-05" or "（30天后过期）". The coordinators'
list sorts by it, so the file can be fetched before the link dies."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

DATE = re.compile(r"(\d{4})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*日?"
                  r"(?:\s*(\d{1,2})\s*[:：]\s*(\d{2}))?")
BEFORE = re.compile(r"(?:有效期至|有效期到|有效期截至|到期时间|过期时间|失效时间|截止)"
                    r"\s*[:：]?\s*$")
AFTER = re.compile(r"^\s*(?:前\s*)?(?:到期|过期|失效)")
RELATIVE = re.compile(r"(\d{1,4})\s*(天|日|小时)\s*后\s*(?:到期|过期|失效)|"
                      r"有效期\s*[:：]?\s*(?:为|还剩|剩余)?\s*(\d{1,4})\s*(天|日|小时)")
TAG = re.compile(r"<[^>]+>")


def body_text(text: str, html: str) -> str:
    """The plain text and the HTML's text together: 163 says the expiry in HTML only."""
    return text + "\n" + unescape(TAG.sub(" ", html))


def cloud_expiry(body: str, sent: datetime, zone: str) -> datetime | None:
    """The earliest expiry the body states, absolute (read in ``zone``, the campaign's: the
    mail services write Beijing time) or relative to ``sent``; a date without a time means
    the end of that day. None when the body says nothing we can read."""
    found = [moment for match in DATE.finditer(body)
             if _names_expiry(body, match) and (moment := _absolute(match, zone))]
    for match in RELATIVE.finditer(body):
        count, unit = (match[1], match[2]) if match[1] else (match[3], match[4])
        hours = int(count) * (1 if unit == "小时" else 24)
        found.append(sent + timedelta(hours=hours))
    return min(found, default=None)


def _names_expiry(body: str, match: re.Match[str]) -> bool:
    """The date is an expiry: "有效期至" before it, or "到期"/"过期" right after it."""
    return bool(BEFORE.search(body[max(0, match.start() - 12):match.start()])
                or AFTER.match(body[match.end():match.end() + 8]))


def _absolute(match: re.Match[str], zone: str) -> datetime | None:
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    hour, minute = (int(match[4]), int(match[5])) if match[4] else (23, 59)
    try:
        return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))
    except ValueError:  # 2026年13月40日: no date
        return None
