"""The board's group rows with deliverables: per group, how many units have done each
deliverable they owe, and how many are overdue, judged deliverable by deliverable against
each one's own deadline (not the campaign's)."""

from __future__ import annotations

from datetime import date

from safetymonth.config import Config
from safetymonth.web.group_rows import deliverable_names, group_rows
from safetymonth.web.views import Board, BoardRow

GROUPS = [{"id": "xunzhong", "name": "浔中镇民政办"}, {"id": "longxun", "name": "龙浔镇民政办"}]
DELIVERABLES = [
    {"id": "experience", "name": "经验做法", "kind": "document", "deadline": "2024-06-05",
     "match": ["经验"]},
    {"id": "summary", "name": "活动情况总结", "kind": "document", "deadline": "2024-06-24"},
]


def _config(**campaign: object) -> Config:
    units = [{"name": f"单位{n}", "emails": [f"u{n}@example.cn"],
              "group": "xunzhong" if n < 3 else "longxun"} for n in range(5)]
    return Config(campaign={"deadline": "2024-06-24", **campaign}, groups=GROUPS, units=units)


def _row(n: int, status: str, *missing: str) -> BoardRow:
    return BoardRow(f"单位{n}", f"单位{n}", status, missing, 0, 0, "", 0)


# xunzhong: 单位0 has both, 单位1 lacks the summary, 单位2 lacks both;
# longxun: 单位3 lacks the experience article, 单位4 sent nothing.
BOARD = Board([_row(0, "complete"), _row(1, "incomplete", "活动情况总结"),
               _row(2, "incomplete", "经验做法", "活动情况总结"),
               _row(3, "incomplete", "经验做法"),
               _row(4, "nothing", "经验做法", "活动情况总结")], 0)


def test_each_deliverable_is_counted_per_group() -> None:
    config = _config(deliverables=DELIVERABLES)
    assert deliverable_names(config) == ["经验做法", "活动情况总结"]
    rows = group_rows(config, BOARD, date(2024, 6, 1))
    assert [(row.id, row.units, row.complete_units, row.done, row.nothing) for row in rows] == [
        ("xunzhong", 3, 1, (2, 1), 0), ("longxun", 2, 0, (0, 1), 1)]
    assert [row.overdue_units for row in rows] == [0, 0]  # before either deadline


def test_overdue_follows_each_deliverables_own_deadline() -> None:
    config = _config(deliverables=DELIVERABLES)
    # After 5 June only the experience article is due: 单位2, 单位3 and 单位4 lack it;
    # 单位1 lacks only the summary, not yet due.
    assert [row.overdue_units for row in group_rows(config, BOARD, date(2024, 6, 6))] == [1, 2]
    # After 24 June everything is: every unit not complete is overdue.
    assert [row.overdue_units for row in group_rows(config, BOARD, date(2024, 6, 25))] == [2, 2]


def test_the_shorthand_has_no_deliverable_columns_and_one_deadline() -> None:
    config = _config()
    assert deliverable_names(config) == []
    before = group_rows(config, BOARD, date(2024, 6, 24))
    after = group_rows(config, BOARD, date(2024, 6, 25))
    assert [(row.done, row.overdue_units) for row in before] == [((), 0), ((), 0)]
    assert [row.overdue_units for row in after] == [2, 2]
