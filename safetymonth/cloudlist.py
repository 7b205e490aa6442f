"""The coordinators' list of cloud-attachment links (超大附件, 中转站) still to fetch: each
credited mail's links, with when they expire, until a file comes from that unit after the
mail (by mail or through its upload link) or a coordinator dismisses the mail."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from safetymonth.config import Config
from safetymonth.storage.repository import Repository


def cloud_links(store: Repository, config: Config) -> list[dict[str, Any]]:
    """``report --json`` ``cloud_links``: ``{unit, message, message_id, url, expires}``,
    soonest expiry first (an unknown expiry last); ``expires`` is ISO 8601 in the campaign's
    zone, or None when the mail did not say."""
    records = store.cloud_link_messages()
    if not records:
        return []  # no scan of every message for the common case
    names = {unit.key: unit.name for unit in config.units}
    views = store.message_views()
    zone = ZoneInfo(config.campaign.timezone)
    found = []
    for record in records:
        view = next((view for view in views if view.id == record.id), None)
        if view is None or view.unit is None or _fetched(views, view.unit, record.id):
            continue
        notes = json.loads(record.notes or "{}")
        expires = notes.get("cloud_expires")
        local = datetime.fromisoformat(expires).astimezone(zone).isoformat() if expires else None
        found += [{"unit": names.get(view.unit, view.unit), "message": record.id,
                   "message_id": record.message_id, "url": url, "expires": local}
                  for url in notes.get("cloud_links", [])]
    return sorted(found, key=lambda item: (item["expires"] is None, item["expires"] or "",
                                           item["message"]))


def _fetched(views: list[Any], unit: str, message: int) -> bool:
    """A later message credited to ``unit`` brought at least one file."""
    return any(view.unit == unit and view.id > message and view.files for view in views)
