"""The summary's statistics table (issue 22, part 6): columns chosen from the report's rows
(per deliverable and per group once the report carries them), kept or dropped by the data
file or the command line, set as a GB/T 9704 table (黑体 header, 仿宋 4号 body) in the .docx
and in LibreOffice's PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docx
import pdfplumber
import pytest
import yaml
from docx.shared import Pt

from safetymonth.docgen import documents, models, oxml, pdf
from safetymonth.docgen.fonts import FANGSONG, HEITI
from safetymonth.docgen.geometry import SMALL_PT
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.cli_runs import BYG, polled, run

DATA = Path(__file__).parents[1] / "data"
GROUPS = {"xunzhong": "浔中镇民政办"}


def _deliverable(key: str, name: str, accepted: int, needed: int, status: str,
                 late: bool = False) -> dict[str, Any]:
    return {"id": key, "name": name, "deadline": "2024-06-05", "accepted": accepted,
            "needed": needed, "status": status, "late": late}


def campaign_rows() -> list[dict[str, Any]]:
    """Two units of ``report --json`` as DESIGN.md's campaign section shapes them."""
    return [
        {"name": "德化县浔中镇敬老院", "id": "xzjly", "group": "xunzhong", "submissions": 3,
         "complete": True, "deliverables": [
             _deliverable("experience", "经验做法", 1, 1, "done", late=True),
             _deliverable("photos", "活动照片", 3, 3, "done")]},
        {"name": "德化县殡仪馆", "id": "byg", "group": None, "submissions": 1,
         "complete": False, "deliverables": [
             _deliverable("experience", "经验做法", 0, 1, "overdue"),
             _deliverable("photos", "活动照片", 2, 3, "open")]},
    ]


HEADER = ["单位", "报送次数", "经验做法", "活动照片", "材料齐全"]
CELLS = [["德化县浔中镇敬老院", "3", "1/1（逾期）", "3/3", "是"],
         ["德化县殡仪馆", "1", "0/1（逾期）", "2/3", "否"]]


def test_columns_follow_the_report_and_name_the_groups() -> None:
    """Today's rows keep today's columns; rows with deliverables get one column each; with
    the groups' names (the report's ``groups``), a 所属 column names each unit's group."""
    from safetymonth.docgen.statistics import statistics

    today = statistics([{"name": "甲", "submissions": 2, "documents_ok": 1, "photos_ok": 4,
                         "photos_failed": 1, "videos_ok": 0, "videos_failed": 2,
                         "complete": False}])
    assert today.header == ["单位", "报送次数", "总结", "照片", "视频", "材料齐全"]
    assert today.rows == [["甲", "2", "1", "4/1", "0/2", "否"]]
    assert today.note == "（照片、视频栏为合格数/不合格数）" and today.received
    grouped = statistics(campaign_rows(), GROUPS)
    assert grouped.header == [*HEADER[:1], "所属", *HEADER[1:]]
    assert [row[1] for row in grouped.rows] == ["浔中镇民政办", "—"]
    assert statistics(campaign_rows()).rows == CELLS
    assert not statistics([{"name": "乙", "submissions": 0}]).received
    assert statistics([{"name": "a|b", "submissions": 1}]).rows[0][0] == "a｜b"


def _summary(tmp_path: Path) -> Path:
    data = models.load(DATA / "summary-2024.yaml", "summary")
    path = tmp_path / "summary.docx"
    documents.build_summary(data, campaign_rows()).save(path)
    return path


def test_per_deliverable_columns_in_gbt9704_table_style(tmp_path: Path) -> None:
    """One column per deliverable (accepted/needed, 逾期 when overdue or late); the header
    row in 黑体, the cells in 4号 仿宋, centred."""
    document = docx.Document(str(_summary(tmp_path)))
    table = document.tables[0]  # the other: the 版记
    cells = [[cell.text for cell in row.cells] for row in table.rows]
    assert cells == [HEADER, *CELLS]
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert "各单位报送活动材料情况如下（各项栏为已收数/应交数）：" in text
    for row_index, row in enumerate(table.rows):
        for cell in row.cells:
            [paragraph] = cell.paragraphs
            assert paragraph.style.name == "GW Small"
            assert paragraph.alignment == 1  # centred
            fonts = {oxml.east_asian_font(run._r) for run in paragraph.runs}
            assert fonts == ({HEITI} if row_index == 0 else {None})  # None: the style's
    small = document.styles["GW Small"]
    assert small.font.size == Pt(SMALL_PT) and oxml.east_asian_font(small) == FANGSONG


@pytest.mark.libreoffice
def test_the_table_in_the_pdf_has_a_sans_header_and_fangsong_cells(tmp_path: Path) -> None:
    made = pdf.convert_cold([_summary(tmp_path)], tmp_path)[0]
    with pdfplumber.open(made) as document:
        chars = [char for page in document.pages for char in page.chars]
    text = "".join(char["text"] for char in chars)
    for header in HEADER:
        assert header in text
    assert "0/1（逾期）" in text
    header = [char for char in chars if char["text"] in "经验做法活动照片材料齐全"
              and round(char["size"]) == SMALL_PT]
    assert header and all("Sans" in char["fontname"] for char in header)
    cells = [char for char in chars if char["text"] in "殡仪馆敬老院"
             and round(char["size"]) == SMALL_PT]
    assert cells and all("FandolFang" in char["fontname"] for char in cells)


def _data_file(tmp_path: Path, intake: bool) -> Path:
    raw = yaml.safe_load((DATA / "summary-2024.yaml").read_text(encoding="utf-8"))
    path = tmp_path / f"summary-{intake}.yaml"
    path.write_text(yaml.safe_dump(raw | {"intake": intake}, allow_unicode=True),
                    encoding="utf-8")
    return path


def _tables(path: Path) -> list[list[list[str]]]:
    """The statistics tables of a .docx (not the 版记's)."""
    tables = [[[cell.text for cell in row.cells] for row in table.rows]
              for table in docx.Document(str(path)).tables]
    return [table for table in tables if table[0][0] == "单位"]


@pytest.mark.usefixtures("on_both_engines")
@pytest.mark.slow
def test_the_command_line_keeps_or_drops_the_table_whatever_the_data_says(
        tmp_path: Path, mail_media: Media) -> None:
    """generate summary --with-statistics on data with ``intake: false`` has the table from
    the store; --without-statistics on ``intake: true`` has none; neither is for a notice."""
    config = polled(tmp_path, {"1.eml": samplemail.complete_submission(
        "byg@dhmz.example.cn", mail_media)})
    kept = tmp_path / "kept.docx"
    run(config, "generate", "summary", str(_data_file(tmp_path, False)), "-o", str(kept),
        "--with-statistics")
    [table] = _tables(kept)
    assert table[0] == ["单位", "报送次数", "总结", "照片", "视频", "材料齐全"]
    # complete_submission carries one passing summary, photo and video.
    assert [BYG, "1", "1", "1/0", "1/0", "是"] in table[1:]
    dropped = tmp_path / "dropped.docx"
    run(config, "generate", "summary", str(_data_file(tmp_path, True)), "-o", str(dropped),
        "--without-statistics")
    assert _tables(dropped) == []
    text = "\n".join(p.text for p in docx.Document(str(dropped)).paragraphs)
    assert "报送活动材料情况" not in text and "尚未收到" not in text
    refused = run(config, "generate", "notice", str(DATA / "notice-dehua-2024.yaml"), "-o",
                  str(tmp_path / "n.docx"), "--with-statistics", code=2)
    assert "只用于总结" in refused.output


@pytest.mark.usefixtures("on_both_engines")
@pytest.mark.slow
def test_a_campaign_with_deliverables_and_groups_has_their_columns(
        tmp_path: Path, mail_media: Media) -> None:
    """With ``campaign.deliverables`` and ``groups:``, the table from the store has a 所属
    column with the group's name and a column per deliverable (accepted/needed)."""
    units = [{"name": BYG, "emails": ["byg@dhmz.example.cn"], "group": "xunzhong"},
             {"name": "德化县救助管理站", "emails": ["jiuzhu@dhmz.example.cn"]}]
    deliverables = [{"id": "summary", "name": "活动情况总结", "kind": "document"},
                    {"id": "photos", "name": "活动照片", "kind": "photo", "count": 2}]
    config = polled(tmp_path, {"1.eml": samplemail.complete_submission(
        "byg@dhmz.example.cn", mail_media)}, units=units,
        groups=[{"id": "xunzhong", "name": "浔中镇民政办"}],
        campaign={"deliverables": deliverables})
    out = tmp_path / "summary.docx"
    run(config, "generate", "summary", str(_data_file(tmp_path, True)), "-o", str(out))
    [table] = _tables(out)
    assert table[0] == ["单位", "所属", "报送次数", "活动情况总结", "活动照片", "材料齐全"]
    # complete_submission carries one passing summary and one photo: two photos are needed.
    assert table[1] == [BYG, "浔中镇民政办", "1", "1/1", "1/2", "否"]
    assert table[2] == ["德化县救助管理站", "—", "0", "0/1", "0/2", "否"]
