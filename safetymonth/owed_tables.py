"""Deliverables as a clerk reads them (Chinese): the report's cells, sheets and terminal lines.

``report --json`` keeps codes (``done``, ``open``, ``overdue``, ``late``); the terminal, the
.csv and the .xlsx say 已完成, 未完成, 已逾期 and 逾期提交 with the counts.
"""

from __future__ import annotations

from typing import Any

from safetymonth.spreadsheet import Sheet, sheet_title

STATUS_LABELS = {"done": "已完成", "open": "未完成", "overdue": "已逾期"}


def owed_label(owed: dict[str, Any]) -> str:
    """``已完成 1/1``, ``已完成（逾期提交）1/1``, ``未完成 0/1`` or ``已逾期 0/1``."""
    status = STATUS_LABELS.get(owed["status"], owed["status"])
    status += "（逾期提交）" if owed["late"] else " "
    return f"{status}{owed['accepted']}/{owed['needed']}"


def owed_header(owed: dict[str, Any]) -> str:
    return f"{owed['name']}（截止 {owed['deadline']}）"


def unit_headers(report: dict[str, Any]) -> list[str]:
    """A column per deliverable the units owe (the same for every unit)."""
    first = report["units"][0]["deliverables"] if report["units"] else []
    return [owed_header(owed) for owed in first]


def unit_cells(unit: dict[str, Any]) -> list[object]:
    return [owed_label(owed) for owed in unit["deliverables"]]


def group_sheets(report: dict[str, Any]) -> list[Sheet]:
    """One sheet per group: its own deliverables, then each of its units."""
    sheets: list[Sheet] = []
    taken: set[str] = set()
    for group in report["groups"]:
        title = sheet_title(group["name"])
        while title in taken or title == "材料报送情况":
            title = sheet_title(f"{title[:28]}_{len(taken)}")
        taken.add(title)
        rows: list[list[object]] = [[owed["name"], owed["deadline"], owed_label(owed)]
                                    for owed in group["deliverables"]]
        rows.append([f"单位（齐全 {group['complete_units']}/{group['units']}）", "", ""])
        rows += [[unit["name"], "", "材料齐全" if unit["complete"] else
                  "缺少：" + "、".join(unit["missing"])]
                 for unit in report["units"] if unit.get("group") == group["id"]]
        sheets.append((title, ["项目", "截止日期", "情况"], rows))
    return sheets


def terminal_lines(report: dict[str, Any]) -> list[str]:
    """Each unit's and group's deliverables, one line each, and the unassigned files."""
    lines = []
    for unit in report["units"]:
        if unit["deliverables"]:
            lines.append(f"  {unit['name']}：" + "；".join(
                f"{owed['name']}（截止 {owed['deadline']}）{owed_label(owed)}"
                for owed in unit["deliverables"]))
    for group in report["groups"]:
        owed_text = "；".join(f"{owed['name']}（截止 {owed['deadline']}）{owed_label(owed)}"
                              for owed in group["deliverables"])
        lines.append(f"  {group['name']}（单位齐全 {group['complete_units']}/{group['units']}）"
                     + (f"：{owed_text}" if owed_text else ""))
    if lines:
        lines.insert(0, "各项材料：")
    for item in report["unassigned"]:
        lines.append(f"未归入任何材料的文件：{item['unit']} “{item['name']}”（编号 {item['file']}，"
                     f"可用 safetymonth assign 归入）")
    return lines
