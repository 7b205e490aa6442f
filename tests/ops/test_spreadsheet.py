"""Tables for clerks: a CSV cell that a spreadsheet would read as a formula is written as
text (prefixed with '). Read back with Python's csv module."""

from __future__ import annotations

import csv
from pathlib import Path

from safetymonth.spreadsheet import write_csv

# Excel and LibreOffice drop a leading TAB or CR and then read the rest as a formula.
HOSTILE = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=cmd|' /C calc'!A0", "\r=HYPERLINK(1)"]


def test_csv_cells_that_could_start_a_formula_are_prefixed(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_csv(path, ["名称"], [[value] for value in [*HOSTILE, "普通", "1 + 1"]])
    with path.open(encoding="utf-8-sig", newline="") as stream:
        cells = [row[0] for row in csv.reader(stream)][1:]
    assert cells == ["'" + value for value in HOSTILE] + ["普通", "1 + 1"]

