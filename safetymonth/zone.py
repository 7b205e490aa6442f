"""Times as the campaign's people read them: in ``campaign.timezone``, never the server's.

A poller on a UTC (or New York) host still tells a unit in Fujian the time its mail came in
Beijing time, and its log lines carry the same clock as ``report`` and the console.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

MINUTE = "%Y-%m-%d %H:%M"


def local_minute(moment: datetime, zone: str) -> str:
    """An aware ``moment`` as ``YYYY-MM-DD HH:MM`` in the time zone ``zone``."""
    return f"{moment.astimezone(ZoneInfo(zone)):{MINUTE}}"


def local_datetime(value: str | None, zone: str) -> datetime | None:
    """A stored UTC time (ISO 8601) as a naive datetime on the clock of ``zone``: what a
    spreadsheet cell holds (Excel dates carry no zone), so a clerk can sort and filter."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def now_in(zone: str) -> datetime:
    """The current time, aware, in ``zone``."""
    return datetime.now(ZoneInfo(zone))


class ZoneFormatter(logging.Formatter):
    """Log lines stamped in the campaign's time zone, whatever ``TZ`` the process has."""

    def __init__(self, fmt: str, zone: str) -> None:
        super().__init__(fmt)
        self.zone = ZoneInfo(zone)

    def formatTime(self, record: logging.LogRecord,
                   datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, self.zone)
        return f"{moment:%Y-%m-%d %H:%M:%S},{int(record.msecs):03d}"
