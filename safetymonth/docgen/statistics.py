"""The summary's statistics table: one row per unit of the campaign's report.

The rows are the ``units`` of ``report --json`` (plain data: docgen knows nothing of the
store). Which columns the table has is decided by :func:`columns` from what the rows carry:
today a unit's submissions, documents, photos, videos and whether it is complete; once the
report carries a unit's ``group`` and its ``deliverables`` (DESIGN.md, "The campaign as the
notices run it"), a 所属 column and one column per deliverable take the place of the kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Row = Mapping[str, Any]
# "|" would end a cell in the body markup; the full-width bar reads the same.
_CELL_BAR = "｜"


@dataclass(frozen=True)
class Column:
    """A column: its header (黑体 in the table) and how a report row fills its cell."""

    header: str
    cell: Callable[[Row], str]
    note: str | None = None  # what the cells say, for the sentence above the table


@dataclass(frozen=True)
class Statistics:
    """The table as the template prints it: header, rows of text, the notes on its cells."""

    header: list[str]
    rows: list[list[str]]
    notes: list[str]
    received: bool  # whether any unit has submitted anything

    @property
    def note(self) -> str:
        """The notes as one parenthesis, empty when there are none."""
        return f"（{'；'.join(self.notes)}）" if self.notes else ""


def _count(key: str) -> Callable[[Row], str]:
    return lambda row: str(row.get(key, 0))


def _ok_failed(kind: str) -> Callable[[Row], str]:
    return lambda row: f"{row.get(f'{kind}_ok', 0)}/{row.get(f'{kind}_failed', 0)}"


def _yes_no(row: Row) -> str:
    return "是" if row.get("complete") else "否"


def _deliverable(key: str) -> Callable[[Row], str]:
    """A deliverable's cell: accepted out of needed, and 逾期 when it is overdue or was late."""
    def cell(row: Row) -> str:
        item = next((item for item in row.get("deliverables") or ()
                     if item.get("id") == key), None)
        if item is None:
            return "—"
        late = "（逾期）" if item.get("status") == "overdue" or item.get("late") else ""
        return f"{item.get('accepted', 0)}/{item.get('needed', 0)}{late}"
    return cell


def _group(names: Mapping[str, str]) -> Callable[[Row], str]:
    return lambda row: names.get(row.get("group") or "", "—")


def columns(rows: Sequence[Row], groups: Mapping[str, str] | None = None) -> list[Column]:
    """The table's columns for these rows. ``groups`` names each group id (the report's
    ``groups``; else the rows' own ``group_name``): given, and units belonging to groups, a
    所属 column shows the names."""
    chosen = [Column("单位", lambda row: str(row.get("name", "")))]
    groups = groups or {row["group"]: row["group_name"] for row in rows
                        if row.get("group") and row.get("group_name")}
    if groups and any(row.get("group") for row in rows):
        chosen.append(Column("所属", _group(groups)))
    chosen.append(Column("报送次数", _count("submissions")))
    deliverables = rows[0].get("deliverables") if rows else None
    if deliverables:
        chosen += [Column(item["name"], _deliverable(item["id"]),
                          None if index else "各项栏为已收数/应交数")
                   for index, item in enumerate(deliverables)]
    else:
        chosen += [Column("总结", _count("documents_ok")),
                   Column("照片", _ok_failed("photos"), "照片、视频栏为合格数/不合格数"),
                   Column("视频", _ok_failed("videos"))]
    chosen.append(Column("材料齐全", _yes_no))
    return chosen


def statistics(rows: Sequence[Row], groups: Mapping[str, str] | None = None) -> Statistics:
    """The table of ``rows`` with the columns :func:`columns` chooses for them."""
    chosen = columns(rows, groups)
    return Statistics(
        header=[column.header for column in chosen],
        rows=[[_cell_text(column.cell(row)) for column in chosen] for row in rows],
        notes=[column.note for column in chosen if column.note],
        received=any(row.get("submissions") for row in rows))


def _cell_text(text: str) -> str:
    return " ".join(text.replace("|", _CELL_BAR).split()) or "—"
