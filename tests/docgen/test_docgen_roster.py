"""The responsibility letters from the roster: letter data without ``units`` gets one letter
per roster unit, each naming the roster's 类别 and 负责人; a unit the data lists by name alone
takes its 类别 and 负责人 from the roster."""

from __future__ import annotations

from pathlib import Path

import docx
import yaml
from click.testing import CliRunner
from openpyxl import Workbook

from safetymonth.cli import main

DATA = Path(__file__).parents[1] / "data"
ROSTER = [("德化县社会福利中心", "养老机构", "郑某某"),
          ("德化县儿童福利院", "儿童福利机构", "陈某某"),
          ("德化县殡仪馆", "殡葬服务机构", None)]


def _config(folder: Path) -> Path:
    workbook = Workbook()
    workbook.active.append(["单位名称", "邮箱", "类别", "负责人"])
    for number, (name, category, head) in enumerate(ROSTER):
        workbook.active.append([name, f"u{number}@dhmz.example.cn", category, head])
    workbook.save(folder / "单位名单.xlsx")
    path = folder / "config.yaml"
    path.write_text("storage:\n  dir: store\nunits: 单位名单.xlsx\n", encoding="utf-8")
    return path


def _letter_data(folder: Path, units: object) -> Path:
    data = yaml.safe_load((DATA / "letters-2024.yaml").read_text(encoding="utf-8"))
    data.pop("units")
    if units is not None:
        data["units"] = units
    path = folder / "letters.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _generate(folder: Path, data: Path) -> dict[str, str]:
    out = folder / "letters"
    result = CliRunner().invoke(main, ["--config", str(_config(folder)), "generate", "letter",
                                       str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return {path.name: "\n".join(paragraph.text for paragraph in docx.Document(path).paragraphs)
            for path in sorted(out.glob("*.docx"))}


def test_letters_without_units_are_one_per_roster_unit(tmp_path: Path) -> None:
    letters = _generate(tmp_path, _letter_data(tmp_path, None))
    assert list(letters) == [f"{number:02d}-{name}.docx"
                             for number, (name, _, _) in enumerate(ROSTER, start=1)]
    for (name, category, head), text in zip(ROSTER, letters.values(), strict=True):
        party_b = f"乙方：{name}" + (f"（负责人：{head}）" if head else "")
        assert party_b in text.split("\n")
        assert f"强化{category}安全管理主体责任" in text


def test_a_unit_listed_by_name_takes_its_category_and_head_from_the_roster(
        tmp_path: Path) -> None:
    data = _letter_data(tmp_path, [{"name": "德化县儿童福利院"},
                                   {"name": "德化县社会福利中心", "head": "另一人"}])
    letters = _generate(tmp_path, data)
    assert list(letters) == ["01-德化县儿童福利院.docx", "02-德化县社会福利中心.docx"]
    first, second = letters.values()
    assert "乙方：德化县儿童福利院（负责人：陈某某）" in first and "强化儿童福利机构安全" in first
    assert "乙方：德化县社会福利中心（负责人：另一人）" in second and "强化养老机构安全" in second
