"""The board's rows per group (乡镇, district bureau), above the units: how many of a group's
units are complete out of all, and how many are overdue, so the bureau sees which 乡镇 lags
before reading 2,000 unit rows. Built from the board's own rows: no query of its own."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from safetymonth.config import Config
from safetymonth.web.views import Board


@dataclass(frozen=True)
class GroupRow:
    id: str
    name: str
    units: int
    complete_units: int
    overdue_units: int  # not complete once the deadline has passed
    nothing: int  # sent nothing yet


def group_rows(config: Config, board: Board, overdue: bool) -> list[GroupRow]:
    """One row per ``groups:`` entry, in the config's order (``overdue``: the deadline has
    passed, so every unit not complete is overdue)."""
    group_of = {unit.key: unit.group for unit in config.units}
    counts: Counter[tuple[str | None, str]] = Counter()
    for row in board.rows:
        group = group_of.get(row.id)
        counts[(group, "all")] += 1
        counts[(group, row.status)] += 1
    rows = []
    for group in config.groups:
        units, complete = counts[(group.id, "all")], counts[(group.id, "complete")]
        rows.append(GroupRow(group.id, group.name, units, complete,
                             units - complete if overdue else 0,
                             counts[(group.id, "nothing")]))
    return rows


def unit_keys(config: Config, group: str) -> frozenset[str]:
    """The keys of the units of ``group``."""
    return frozenset(unit.key for unit in config.units if unit.group == group)
