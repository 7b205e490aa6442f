"""The roster: the clerk's own list of institutions, an .xlsx or .csv with a Chinese header row,
read into the ``units:`` of the config.

A clerk keeps the list in Excel or WPS (名称, 邮箱, 所属乡镇, 类别, 负责人); retyping it as YAML
is where units get lost. So ``units:`` may name the file itself. Every wrong row is refused
with its row number and what is wrong, in Chinese, because the clerk fixes it in the sheet,
not in the config. The file is bounded (size and rows) before it is parsed: an upload from the
console goes through the same reader.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_ROSTER_BYTES = 10 * 1024 * 1024
MAX_ROSTER_ROWS = 10_000
MAX_ERRORS_SHOWN = 20
SUFFIXES = (".xlsx", ".csv")

# Header -> the Unit field it fills. Extra columns are ignored.
COLUMNS = {"单位名称": "name", "编号": "id", "邮箱": "emails", "所属": "group",
           "类别": "category", "负责人": "leader"}
EMAIL_SEPARATORS = re.compile(r"[；;,，\r\n]+")
EMAIL = re.compile(r"^[^@\s]*@[^@\s]+\.[^@\s]+$")  # an address, or @domain for a whole domain


class RosterError(Exception):
    """A roster that cannot be used: each line names a row and what is wrong with it."""


@dataclass(frozen=True)
class GroupName:
    """What a roster's 所属 may say: a group's id or its name."""

    id: str
    name: str


def group_names(groups: object) -> list[GroupName]:
    """The ids and names of ``groups:`` as written in the config (models or mappings;
    malformed entries are left to the config's own validation of ``groups``)."""
    names = []
    for group in groups if isinstance(groups, list) else []:
        entry = group.model_dump() if hasattr(group, "model_dump") else group
        if isinstance(entry, dict) and entry.get("id") and entry.get("name"):
            names.append(GroupName(str(entry["id"]), str(entry["name"])))
    return names


def read_roster(path: Path, groups: Sequence[GroupName] = ()) -> list[dict[str, object]]:
    """The units of the roster at ``path``, as ``units:`` entries (dicts for :class:`Unit`),
    their 所属 resolved to group ids."""
    if path.suffix.lower() not in SUFFIXES:
        raise RosterError(f"{path.name}：名单须是 .xlsx 或 .csv 文件")
    try:
        size = path.stat().st_size
        if size > MAX_ROSTER_BYTES:
            raise RosterError(_too_large(path.name, size))
        data = path.read_bytes()
    except OSError as error:
        raise RosterError(f"无法读取名单 {path}：{error.strerror}") from error
    return parse_roster(data, path.name, groups)


def parse_roster(data: bytes, name: str,
                 groups: Sequence[GroupName] = ()) -> list[dict[str, object]]:
    """The units of a roster file's bytes (``name`` says its type and is used in messages)."""
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError(_too_large(name, len(data)))
    rows = _xlsx_rows(data, name) if name.lower().endswith(".xlsx") else _csv_rows(data, name)
    return _units(rows, name, groups)


def _too_large(name: str, size: int) -> str:
    return (f"{name}：文件太大（{size // 1024} KB），名单最多 "
            f"{MAX_ROSTER_BYTES // 1024 // 1024} MB")


def _xlsx_rows(data: bytes, name: str) -> list[tuple[int, list[str]]]:
    """The first sheet's rows, numbered as Excel shows them. The sheet's declared size is
    checked before a row is read; a sheet that declares none is counted as it is read."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is no workbook
        raise RosterError(f"{name}：不是可读的 Excel（.xlsx）文件（{type(error).__name__}）") \
            from None
    try:
        sheet = workbook.worksheets[0]
        declared = sheet.max_row if isinstance(sheet.max_row, int) else 0
        if declared > MAX_ROSTER_ROWS + 1:
            raise RosterError(_too_many(name))
        return _bounded(((index, [_cell_text(value) for value in values])
                         for index, values in enumerate(sheet.iter_rows(values_only=True),
                                                        start=1)), name)
    finally:
        workbook.close()


def _csv_rows(data: bytes, name: str) -> list[tuple[int, list[str]]]:
    """UTF-8 (with or without the BOM Excel writes) or, failing that, GBK/GB18030 (what
    Excel and WPS on a Chinese Windows save as "CSV")."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise RosterError(f"{name}：无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV")\
                from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _bounded(((reader.line_num, [cell.strip() for cell in cells])
                         for cells in reader), name)
    except csv.Error as error:
        raise RosterError(f"{name}：第{reader.line_num}行：CSV 格式有误（{error}）") from None


def _bounded(rows: Iterable[tuple[int, list[str]]],
             name: str) -> list[tuple[int, list[str]]]:
    kept: list[tuple[int, list[str]]] = []
    for row in rows:
        if len(kept) > MAX_ROSTER_ROWS:
            raise RosterError(_too_many(name))
        kept.append(row)
    return kept


def _too_many(name: str) -> str:
    return f"{name}：行数太多，名单最多 {MAX_ROSTER_ROWS} 行"


def _cell_text(value: object) -> str:
    """A cell as text: a whole number typed as 编号 is ``12``, not ``12.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _units(rows: list[tuple[int, list[str]]], name: str,
           groups: Sequence[GroupName]) -> list[dict[str, object]]:
    filled = [(number, cells) for number, cells in rows if any(cells)]
    if not filled:
        raise RosterError(f"{name}：名单是空的（第一行应是表头：单位名称、邮箱……）")
    header_number, header = filled[0]
    columns = {COLUMNS[title.strip()]: position for position, title in enumerate(header)
               if title.strip() in COLUMNS}
    if "name" not in columns:
        raise RosterError(f"{name}：第{header_number}行（表头）没有“单位名称”列")
    errors: list[str] = []
    units: list[dict[str, object]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, cells in filled[1:]:
        try:
            unit = _unit(cells, columns, groups)
            _check_distinct(unit, number, seen)
        except RosterError as error:
            errors.append(f"{name}：第{number}行：{error}")
            continue
        units.append(unit)
    if errors:
        more = len(errors) - MAX_ERRORS_SHOWN
        shown = errors[:MAX_ERRORS_SHOWN] + ([f"……另有 {more} 处错误"] if more > 0 else [])
        raise RosterError("\n".join(shown))
    if not units:
        raise RosterError(f"{name}：表头下面没有单位")
    return units


def _unit(cells: list[str], columns: dict[str, int],
          groups: Sequence[GroupName]) -> dict[str, object]:
    def cell(field: str) -> str:
        position = columns.get(field)
        return cells[position].strip() if position is not None and position < len(cells) \
            else ""

    unit_name = cell("name")
    if not unit_name:
        raise RosterError("单位名称为空")
    unit: dict[str, object] = {"name": unit_name, "emails": _emails(cell("emails"))}
    if cell("id"):
        unit["id"] = cell("id")
    if cell("group"):
        unit["group"] = group_id(cell("group"), groups)
    for field in ("category", "leader"):
        if cell(field):
            unit[field] = cell(field)
    return unit


def _emails(text: str) -> list[str]:
    addresses = [part.strip() for part in EMAIL_SEPARATORS.split(text) if part.strip()]
    if not addresses:
        raise RosterError("邮箱为空（每个单位至少要有一个邮箱）")
    wrong = [address for address in addresses if not EMAIL.match(address)]
    if wrong:
        raise RosterError(f"邮箱“{wrong[0]}”不是邮件地址（多个邮箱用分号、逗号或换行隔开）")
    return addresses


def letter_units(units: Iterable[Any]) -> list[dict[str, str]]:
    """The roster's units as a responsibility letter's data lists them (``{name, category,
    head}``, the roster's 单位名称, 类别, 负责人), for letters whose data names none."""
    letters = []
    for unit in units:
        entry = {"name": unit.name, "category": unit.category, "head": unit.leader}
        letters.append({key: value for key, value in entry.items() if value})
    return letters


def group_id(text: str, groups: Sequence[GroupName]) -> str:
    """The id of the group that ``text`` names by id or by name."""
    for group in groups:
        if text in (group.id, group.name):
            return group.id
    known = "、".join(group.name for group in groups) or "（配置中没有 groups:）"
    raise RosterError(f"所属“{text}”不是已配置的分组；可选：{known}")


def _check_distinct(unit: dict[str, object], number: int,
                    seen: dict[tuple[str, str], int]) -> None:
    for label, key in (("单位名称", "name"), ("编号", "id")):
        value = unit.get(key)
        if value is None:
            continue
        earlier = seen.get((key, str(value)))
        if earlier is not None:
            raise RosterError(f"{label}“{value}”与第{earlier}行重复")
        seen[(key, str(value))] = number
