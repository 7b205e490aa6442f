"""Tables for clerks: .xlsx (openpyxl) and .csv (UTF-8 with a BOM, which Excel and WPS
expect), from a header row and rows of plain values.

Times are given as naive local datetimes: in an .xlsx they are date cells with a date format
(a clerk sorts and filters them), in a .csv ``YYYY-MM-DD HH:MM`` text.

Every text cell may hold what came in a mail (a subject, a file name), so a text starting
with ``=``, ``+``, ``-``, ``@``, a TAB or a CR is stored as text, never as a formula (in a
CSV, prefixed with ``'``: Excel and LibreOffice strip a leading TAB or CR and would read the
rest as a formula), and characters XML cannot hold are dropped.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from re import Pattern
from typing import Any, BinaryIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_COLUMN_WIDTH = 60
DATE_FORMAT = "yyyy-mm-dd hh:mm"  # an Excel/WPS date cell, sortable and filterable by date


Sheet = tuple[str, Sequence[str], Sequence[Sequence[object]]]  # title, headers, rows


def write_xlsx(out: BinaryIO, title: str, headers: Sequence[str],
               rows: Sequence[Sequence[object]], more: Sequence[Sheet] = ()) -> None:
    """A workbook of one table, then one sheet for each of ``more``."""
    # Imported here: openpyxl costs every process that imports the report (a poll, for
    # what a unit still lacks) a tenth of a second, and only an .xlsx needs it.
    from openpyxl import Workbook

    workbook = Workbook()
    _fill(workbook.active, title, headers, rows)
    for extra_title, extra_headers, extra_rows in more:
        _fill(workbook.create_sheet(), extra_title, extra_headers, extra_rows)
    workbook.save(out)


def sheet_title(text: str) -> str:
    """``text`` as a sheet may be titled: at most 31 characters, none of ``[]:*?/\\``."""
    cleaned = "".join("_" if char in "[]:*?/\\" else char for char in text).strip("'")
    return cleaned[:31] or "_"


def _fill(sheet: Any, title: str, headers: Sequence[str],
          rows: Sequence[Sequence[object]]) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    sheet.title = title
    sheet.append(list(headers))
    for row in rows:
        sheet.append([_xlsx_value(value, ILLEGAL_CHARACTERS_RE) for value in row])
    for position, header in enumerate(headers, start=1):
        cells = [header] + [row[position - 1] for row in rows]
        width = max(_display_width(_shown(value)) for value in cells)
        sheet.column_dimensions[get_column_letter(position)].width = min(width + 2,
                                                                         MAX_COLUMN_WIDTH)
    sheet.freeze_panes = "A2"
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                cell.data_type = "s"  # text, not a formula
            elif isinstance(cell.value, datetime):
                cell.number_format = DATE_FORMAT


def write_csv(path: Path, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(headers)
        writer.writerows([[_csv_value(value) for value in row] for row in rows])


def _xlsx_value(value: object, illegal: Pattern[str]) -> object:
    return illegal.sub("", value) if isinstance(value, str) else value


def _shown(value: object) -> str:
    """What a cell shows, for its column's width."""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return "" if value is None else str(value)


def _csv_value(value: object) -> object:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _display_width(text: str) -> int:
    return sum(2 if ord(char) > 0x2E80 else 1 for char in text)
