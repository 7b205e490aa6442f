"""Body markup: automatic numbering, run-in headings, paragraphs and tables."""

from __future__ import annotations

import pytest

from safetymonth.docgen import markup
from safetymonth.docgen.markup import Heading, Paragraph, Table
from safetymonth.docgen.models import DataError


@pytest.mark.parametrize(("value", "text"), [
    (1, "一"), (9, "九"), (10, "十"), (11, "十一"), (19, "十九"), (20, "二十"), (21, "二十一"),
    (99, "九十九")])
def test_chinese_numbers(value: int, text: str) -> None:
    assert markup.chinese_number(value) == text


def test_chinese_number_out_of_range() -> None:
    # A clear error for the clerk (the CLI prints it, exit 2), not a traceback.
    with pytest.raises(DataError, match="at most 99 headings"):
        markup.chinese_number(100)


def _numbers(text: str) -> list[str]:
    return [block.number for block in markup.parse(text) if isinstance(block, Heading)]


def test_four_levels_are_numbered_and_reset_below() -> None:
    text = "# a\n## b\n### c\n#### d\n#### e\n### f\n## g\n# h\n## i\n### j"
    assert _numbers(text) == ["一、", "（一）", "1.", "（1）", "（2）", "2.", "（二）", "二、",
                              "（一）", "1."]


def test_numbering_has_no_gap_when_a_section_is_left_out() -> None:
    # What a template condition leaves behind: the second section simply is not there.
    assert _numbers("# 第一\n\n# 第三\n\n# 第四") == ["一、", "二、", "三、"]


def test_hand_typed_numbers_are_replaced() -> None:
    blocks = markup.parse("# 一、活动宗旨\n# 3、 推进落实\n## （二）组织实施\n### 1.开展宣传")
    assert [(b.number, b.text) for b in blocks if isinstance(b, Heading)] == [
        ("一、", "活动宗旨"), ("二、", "推进落实"), ("（一）", "组织实施"), ("1.", "开展宣传")]


def test_more_than_four_hashes_is_level_four() -> None:
    (heading,) = markup.parse("##### 深层")
    assert isinstance(heading, Heading) and heading.level == 4


def test_run_in_heading_splits_after_the_full_stop() -> None:
    (heading,) = markup.parse("## 加强领导，落实责任。各级民政部门要高度重视。要狠抓落实。")
    assert isinstance(heading, Heading)
    assert heading.runs_in
    assert heading.text == "加强领导，落实责任。"
    assert heading.rest == "各级民政部门要高度重视。要狠抓落实。"


@pytest.mark.parametrize("line", ["## 动员部署", "## 动员部署。", "### 动员部署。  "])
def test_heading_without_text_after_the_stop_stands_alone(line: str) -> None:
    (heading,) = markup.parse(line)
    assert isinstance(heading, Heading) and not heading.runs_in


def test_level_one_never_runs_in() -> None:
    (heading,) = markup.parse("# 活动宗旨。以强化安全管理为主题")
    assert isinstance(heading, Heading)
    assert not heading.runs_in and heading.text == "活动宗旨。以强化安全管理为主题"


def test_blank_lines_separate_paragraphs_and_lines_join() -> None:
    blocks = markup.parse("第一段\n接着写。\n\n\n第二段。\n# 标题\n第三段。")
    assert blocks == [Paragraph("第一段接着写。"), Paragraph("第二段。"),
                      Heading(1, "一、", "标题"), Paragraph("第三段。")]


def test_ruled_table_with_header() -> None:
    blocks = markup.parse("前言。\n| 单位 | 照片 |\n| --- | :---: |\n| 甲 | 1 |\n| 乙 |\n\n后记。")
    assert blocks == [Paragraph("前言。"),
                      Table(rows=(("单位", "照片"), ("甲", "1"), ("乙", "")), header=True),
                      Paragraph("后记。")]


def test_table_without_separator_is_a_layout_table() -> None:
    (table,) = markup.parse("| 甲方（盖章） | 乙方（盖章） |\n| | |")
    assert table == Table(rows=(("甲方（盖章）", "乙方（盖章）"), ("", "")), header=False)


def test_a_decimal_number_is_not_taken_for_a_hand_typed_number() -> None:
    blocks = markup.parse("### 1.5倍效率\n### 2.开展宣传\n#### 3、 0.5小时内响应")
    assert [(b.number, b.text) for b in blocks if isinstance(b, Heading)] == [
        ("1.", "1.5倍效率"), ("2.", "开展宣传"), ("（1）", "0.5小时内响应")]


def test_a_heading_ending_in_a_full_stop_runs_into_the_lines_under_it() -> None:
    same_line = markup.parse("## 加强领导。各级要重视。再写一行。\n\n下一段。")
    next_lines = markup.parse("## 加强领导。\n各级要重视。\n再写一行。\n\n下一段。")
    assert next_lines == same_line == [
        Heading(2, "（一）", "加强领导。", "各级要重视。再写一行。"), Paragraph("下一段。")]
    # Run in already, the heading takes the next lines too, as any paragraph would.
    (heading,) = markup.parse("### 落实责任。要重视。\n抓落实。")
    assert heading == Heading(3, "1.", "落实责任。", "要重视。抓落实。")


@pytest.mark.parametrize("text", ["## 动员部署\n正文。", "# 活动宗旨。\n正文。",
                                  "## 动员部署。\n\n正文。", "## 动员部署。\n| 甲 | 乙 |"])
def test_other_headings_stay_on_their_own(text: str) -> None:
    heading, following = markup.parse(text)
    assert isinstance(heading, Heading) and not heading.runs_in
    assert not isinstance(following, Heading)
