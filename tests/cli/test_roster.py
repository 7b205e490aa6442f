"""``units:`` naming the clerk's roster (.xlsx or .csv, Chinese header row): read as the units,
every wrong row refused with its row number (exit 2), and the units it names credited."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from safetymonth.cli import main
from safetymonth.config import ConfigError, load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.roster import MAX_ROSTER_BYTES
from tests.support.mailservers import drop, write_config

GROUPS = [{"id": "xunzhong", "name": "浔中镇民政办"}, {"id": "longxun", "name": "龙浔镇民政办"}]
HEADER = ["序号", "单位名称", "编号", "邮箱", "所属", "类别", "负责人", "备注"]
ROWS = [
    [1, "德化县社会福利中心", 101, "fuli@dhmz.example.cn；fuli2@dhmz.example.cn", "浔中镇民政办",
     "养老机构", "郑某某", "extra column"],
    [2, "德化县浔中镇敬老院", "XZ-2", "xzjly@dhmz.example.cn\nxz2@dhmz.example.cn",
     "xunzhong", "养老机构", "林某某", None],
    [3, "德化县殡仪馆", None, "byg@dhmz.example.cn, @byg.example.cn", "龙浔镇民政办",
     "殡葬服务机构", None, None],
]
# What the config's units must be, from ROWS as written above.
EXPECTED = [
    {"name": "德化县社会福利中心", "id": "101", "group": "xunzhong", "category": "养老机构",
     "leader": "郑某某", "emails": ["fuli@dhmz.example.cn", "fuli2@dhmz.example.cn"]},
    {"name": "德化县浔中镇敬老院", "id": "XZ-2", "group": "xunzhong", "category": "养老机构",
     "leader": "林某某", "emails": ["xzjly@dhmz.example.cn", "xz2@dhmz.example.cn"]},
    {"name": "德化县殡仪馆", "id": None, "group": "longxun", "category": "殡葬服务机构",
     "leader": None, "emails": ["byg@dhmz.example.cn", "@byg.example.cn"]},
]


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "单位名单"
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def _csv_text(rows: list[list[object]]) -> str:
    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return f'"{text}"' if any(mark in text for mark in ',\n"') else text

    return "".join(",".join(cell(value) for value in row) + "\r\n" for row in [HEADER, *rows])


def _config(tmp_path: Path, roster: str) -> Path:
    return write_config(tmp_path, units=roster, groups=GROUPS)


def _units(config: Path) -> list[dict[str, object]]:
    return [unit.model_dump(include={"name", "id", "group", "category", "leader", "emails"})
            for unit in load_config(config).units]


def test_an_openpyxl_roster_is_the_units_with_groups_resolved(tmp_path: Path) -> None:
    _xlsx(tmp_path / "单位名单.xlsx", ROWS)
    config = _config(tmp_path, "单位名单.xlsx")
    assert _units(config) == EXPECTED
    assert load_config(config).roster_file == tmp_path / "单位名单.xlsx"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_a_csv_roster_in_gbk_or_utf8(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "名单.csv").write_bytes(_csv_text(ROWS).encode(encoding))
    assert _units(_config(tmp_path, "名单.csv")) == EXPECTED


@pytest.mark.libreoffice
def test_a_roster_saved_by_libreoffice_from_a_csv(tmp_path: Path) -> None:
    work = tmp_path / "lo"
    work.mkdir()
    (work / "名单.csv").write_text(_csv_text(ROWS), encoding="utf-8")
    # 44: comma, 34: double quote, 76: UTF-8, 1: from the first line
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{work}/profile",
                    "--infilter=CSV:44,34,76,1", "--convert-to", "xlsx", "--outdir",
                    str(work), str(work / "名单.csv")],
                   check=True, capture_output=True, timeout=180)
    shutil.move(work / "名单.xlsx", tmp_path / "名单.xlsx")
    assert _units(_config(tmp_path, "名单.xlsx")) == EXPECTED


def test_wrong_rows_are_refused_with_their_numbers_and_exit_2(tmp_path: Path) -> None:
    rows = [ROWS[0],
            [2, "", None, "a@dhmz.example.cn", None, None, None, None],  # row 3: no name
            [3, "某敬老院", None, "", None, None, None, None],  # row 4: no address
            [4, "某救助站", None, "jz@dhmz", None, None, None, None],  # row 5: no domain
            [5, "某福利院", None, "f@dhmz.example.cn", "某镇", None, None, None],  # row 6
            [6, "德化县社会福利中心", None, "x@dhmz.example.cn", None, None, None, None],
            [7, "另一单位", 101, "y@dhmz.example.cn", None, None, None, None]]  # row 8: 编号
    _xlsx(tmp_path / "名单.xlsx", rows)
    result = CliRunner().invoke(main, ["--config", str(_config(tmp_path, "名单.xlsx")),
                                       "report"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if "第" in line]
    assert [line.split("：")[1] for line in lines] == [f"第{row}行" for row in range(3, 9)]
    assert "单位名称为空" in lines[0] and "邮箱为空" in lines[1]
    assert "jz@dhmz" in lines[2] and "某镇" in lines[3]
    assert "与第2行重复" in lines[4] and "与第2行重复" in lines[5]


def test_a_roster_without_the_name_column_or_too_large_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("名称,邮箱\n甲,a@b.cn\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="单位名称"):
        load_config(_config(tmp_path, "a.csv"))
    (tmp_path / "big.csv").write_bytes(b"x" * (MAX_ROSTER_BYTES + 1))
    with pytest.raises(ConfigError, match="太大"):
        load_config(_config(tmp_path, "big.csv"))
    with pytest.raises(ConfigError, match="无法读取"):
        load_config(_config(tmp_path, "none.xlsx"))


def test_a_yaml_unit_names_its_group_by_id_or_name_and_an_unknown_one_is_refused(
        tmp_path: Path) -> None:
    units = [{"name": "甲", "emails": ["a@b.cn"], "group": "龙浔镇民政办"},
             {"name": "乙", "emails": ["b@b.cn"], "group": "xunzhong"}]
    config = load_config(write_config(tmp_path, units=units, groups=GROUPS))
    assert [unit.group for unit in config.units] == ["longxun", "xunzhong"]
    with pytest.raises(ConfigError, match="某镇"):
        load_config(write_config(tmp_path, groups=GROUPS,
                                 units=[{**units[0], "group": "某镇"}]))


@pytest.mark.usefixtures("on_both_engines")
def test_mail_from_a_roster_address_is_credited_to_its_unit(tmp_path: Path,
                                                            mail_media: Media) -> None:
    (tmp_path / "名单.csv").write_bytes(_csv_text(ROWS).encode("gbk"))
    config = _config(tmp_path, "名单.csv")
    drop(tmp_path / "inbox", "1.eml",
         samplemail.complete_submission("xz2@dhmz.example.cn", mail_media, "<r@x>"))
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(config), "poll", "--once"]).exit_code == 0
    result = runner.invoke(main, ["--config", str(config), "report", "--json"])
    assert result.exit_code == 0, result.output
    units = {unit["name"]: unit for unit in json.loads(result.stdout)["units"]}
    assert set(units) == {row[1] for row in ROWS}
    assert units["德化县浔中镇敬老院"]["complete"] is True
    assert units["德化县浔中镇敬老院"]["submissions"] == 1
