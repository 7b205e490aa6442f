"""Per-unit status, read from the store (``safetymonth report``; the summary's intake table).

STUB: the intake work replaces this with the real store-backed report. The shape of the result
is the ``report --json`` contract of DESIGN.md.
"""

from __future__ import annotations

from typing import Any

from safetymonth.config import Config


def build_report(config: Config) -> dict[str, Any]:
    """The ``report --json`` object: every configured unit, with what it has submitted."""
    units = [
        {"name": unit.name, "submissions": 0, "documents_ok": 0, "photos_ok": 0,
         "photos_failed": 0, "videos_ok": 0, "videos_failed": 0, "complete": False,
         "last_submission": None}
        for unit in config.units
    ]
    return {"units": units, "unknown_senders": [], "suspicious": []}
