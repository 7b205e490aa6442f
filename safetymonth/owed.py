"""What each unit and each group still owes, deliverable by deliverable, at a given moment.

A deliverable is ``done`` once it has ``count`` accepted files (distinct contents) counting
for it, else ``open`` until the end of its deadline's day in the campaign's time zone and
``overdue`` after; ``late`` when it is done but only with files received after that day (they
count, marked late). A deliverable ``owed_by: group`` is owed once per group, from any of its
units or from the group's own address (see :mod:`safetymonth.targets`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from safetymonth.config import Config
from safetymonth.deliverables import Deliverable, deadline_of, deliverables_of
from safetymonth.storage.repository import Repository
from safetymonth.targets import group_key, group_of_key

DONE, OPEN, OVERDUE = "done", "open", "overdue"


def cutoff(deadline: date, zone: str) -> datetime:
    """The end of ``deadline``'s day in ``zone``: a file received before it is on time."""
    return datetime.combine(deadline + timedelta(days=1), time(), ZoneInfo(zone))


def stored_time(moment: datetime) -> str:
    """``moment`` as the store writes times (UTC ISO 8601 to the second), comparable as text."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Owed:
    """One deliverable's state for one unit or group (``report --json``'s ``deliverables``)."""

    id: str
    name: str
    deadline: str  # YYYY-MM-DD
    accepted: int
    needed: int
    status: str
    late: bool

    def row(self) -> dict[str, Any]:
        return dict(vars(self))


class Standing:
    """Every unit's and group's deliverables, from two grouped reads of the store."""

    def __init__(self, repository: Repository, config: Config,
                 at: datetime | None = None, keys: list[str] | None = None) -> None:
        """``keys``: read only what these units or groups (their keys) have sent."""
        self.config = config
        self.at = at or datetime.now(UTC)
        campaign, zone = config.campaign, config.campaign.timezone
        self.deliverables = deliverables_of(campaign)
        self.cutoffs = {item.id: cutoff(deadline_of(item, campaign), zone)
                        for item in self.deliverables}
        self.counts = repository.deliverable_counts(
            {ident: stored_time(moment) for ident, moment in self.cutoffs.items()}, keys)
        self.group_owed = [item for item in self.deliverables if item.owed_by == "group"]
        self.unit_owed = [item for item in self.deliverables if item.owed_by == "unit"]
        self._units: dict[str, list[Owed]] = {}
        self._group_files = repository.accepted_contents([item.id for item in self.group_owed],
                                                         keys)

    def _owed(self, item: Deliverable, accepted: int, on_time: int) -> Owed:
        needed = item.count
        status = DONE if accepted >= needed else \
            OVERDUE if self.at >= self.cutoffs[item.id] else OPEN
        return Owed(item.id, item.name, deadline_of(item, self.config.campaign).isoformat(),
                    accepted, needed, status, status == DONE and on_time < needed)

    def of_unit(self, unit: str) -> list[Owed]:
        """What the unit keyed ``unit`` owes itself (not its group's deliverables)."""
        found = self._units.get(unit)
        if found is None:
            found = self._units[unit] = [
                self._owed(item, *self.counts.get((unit, item.id), (0, 0)))
                for item in self.unit_owed]
        return found

    def of_group(self, group: str) -> list[Owed]:
        """The group's deliverables, from its own mail and any of its units' (a file two of
        them sent counts once)."""
        keys = {group_key(group)} | {unit.key for unit in self.config.units
                                     if unit.group == group}
        first: dict[tuple[str, int], str] = {}
        for unit, ident, content, received in self._group_files:
            if unit in keys and received < first.get((ident, content), "~"):
                first[(ident, content)] = received
        found: dict[str, list[str]] = defaultdict(list)
        for (ident, _), received in first.items():
            found[ident].append(received)
        return [self._owed(item, len(found[item.id]), sum(
            1 for received in found[item.id]
            if received < stored_time(self.cutoffs[item.id]))) for item in self.group_owed]

    def missing(self, unit: str) -> list[Owed]:
        """The unit's own deliverables not done yet."""
        return [owed for owed in self.of_unit(unit) if owed.status != DONE]

    def group_missing(self, group: str) -> list[Owed]:
        """The group's deliverables not done yet."""
        return [owed for owed in self.of_group(group) if owed.status != DONE]


def keys_of(config: Config, key: str) -> list[str]:
    """The credit keys whose files count for ``key`` (a unit's, or a group's: its own and
    its units')."""
    group = group_of_key(key)
    if group is None:
        return [key]
    return [key, *(unit.key for unit in config.units if unit.group == group)]


def groups_rows(standing: Standing, complete: dict[str, bool]) -> list[dict[str, Any]]:
    """``report --json``'s ``groups``: each group's units, how many are complete (their own
    deliverables all done; ``complete`` by unit key), and its group-owed deliverables."""
    rows = []
    for group in standing.config.groups:
        members = [unit.key for unit in standing.config.units if unit.group == group.id]
        rows.append({"id": group.id, "name": group.name, "units": len(members),
                     "complete_units": sum(1 for key in members if complete.get(key)),
                     "deliverables": [owed.row() for owed in standing.of_group(group.id)]})
    return rows
