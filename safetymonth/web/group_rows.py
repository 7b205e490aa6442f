"""The board's rows per group (乡镇, district bureau), above the units: how many of a group's
units are complete out of all, and how many are overdue, so the bureau sees which 乡镇 lags
before reading 2,000 unit rows, and, with ``campaign.deliverables``, how many have done each
deliverable their units owe. Built from the board's own rows: no query of its own."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from safetymonth.config import Config
from safetymonth.deliverables import deadline_of
from safetymonth.owed import cutoff
from safetymonth.web.views import Board, BoardRow


@dataclass(frozen=True)
class GroupRow:
    id: str
    name: str
    units: int
    complete_units: int
    overdue_units: int  # not complete once the deadline has passed
    nothing: int  # sent nothing yet
    done: tuple[int, ...] = ()  # units that have done each of deliverable_names(config)


def deliverable_names(config: Config) -> list[str]:
    """The deliverables a group's units each owe (with ``campaign.deliverables``), as the
    board's columns name them; none with the ``completion:`` shorthand."""
    return [item.name for item in config.campaign.deliverables or ()
            if item.owed_by == "unit"]


def group_rows(config: Config, board: Board, today: date) -> list[GroupRow]:
    """One row per ``groups:`` entry, in the config's order, judged on ``today`` (the
    campaign's day): a unit is overdue when something it lacks is past its deadline."""
    group_of = {unit.key: unit.group for unit in config.units}
    names = deliverable_names(config)
    late = _past_due(config, today)
    counts: Counter[tuple[str | None, str]] = Counter()
    for row in board.rows:
        group = group_of.get(row.id)
        counts[(group, "all")] += 1
        counts[(group, row.status)] += 1
        counts[(group, "overdue")] += _overdue(row, late)
        for name in names:
            counts[(group, name)] += name not in row.missing
    return [GroupRow(group.id, group.name, counts[(group.id, "all")],
                     counts[(group.id, "complete")], counts[(group.id, "overdue")],
                     counts[(group.id, "nothing")],
                     tuple(counts[(group.id, name)] for name in names))
            for group in config.groups]


def _past_due(config: Config, today: date) -> set[str] | bool:
    """The names of the deliverables past their deadline; with the ``completion:``
    shorthand, whether the campaign's one deadline has passed."""
    campaign = config.campaign
    start = datetime.combine(today, time(), ZoneInfo(campaign.timezone))  # today's first moment
    if campaign.deliverables is None:
        return start >= cutoff(campaign.deadline, campaign.timezone)
    return {item.name for item in campaign.deliverables
            if start >= cutoff(deadline_of(item, campaign), campaign.timezone)}


def _overdue(row: BoardRow, late: set[str] | bool) -> bool:
    if row.status == "complete":
        return False
    return late if isinstance(late, bool) else bool(late & set(row.missing))


def unit_keys(config: Config, group: str) -> frozenset[str]:
    """The keys of the units of ``group``."""
    return frozenset(unit.key for unit in config.units if unit.group == group)
