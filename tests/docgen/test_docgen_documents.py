"""Data files, templates and their overrides, the summary's intake table, letters in batch."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import docx
import pytest
import yaml

from safetymonth import docgen
from safetymonth.docgen import batch, documents, markup, models

DATA = Path(__file__).parents[1] / "data"
ROW = {"name": "德化县殡仪馆", "submissions": 0, "documents_ok": 0, "photos_ok": 0,
       "photos_failed": 0, "videos_ok": 0, "videos_failed": 0, "complete": False,
       "last_submission": None}


def _text(path_or_bytes: Path | bytes) -> str:
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    document = docx.Document(source)
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(parts)


@pytest.mark.parametrize(("file", "kind"), [
    ("notice-weihai-2016.yaml", "notice"), ("notice-dehua-2024.yaml", "notice"),
    ("letters-2024.yaml", "letter"), ("summary-2024.yaml", "summary")])
def test_example_files_load_as_they_are(file: str, kind: str) -> None:
    data = models.load(DATA / file, kind)
    assert data.kind == kind


def test_dates_print_without_leading_zeros() -> None:
    assert models.cn_date(date(2016, 5, 3)) == "2016年5月3日"
    assert models.cn_date(date(2024, 12, 31)) == "2024年12月31日"


def _raw(file: str) -> dict:
    return yaml.safe_load((DATA / file).read_text(encoding="utf-8"))


@pytest.mark.parametrize(("change", "expected"), [
    ({"title": None}, "title: Input should be a valid string"),
    ({"date": "2016-13-40"}, "date: “2016-13-40”：没有13月，月份为1至12 (no month 13)"),
    ({"enclosed": {"title": "方案"}}, "enclosed.body: Field required"),
    ({"attachments": "一个附件"}, "attachments: Input should be a valid list"),
    ({"colour": "red"}, "colour: unknown key"),
])
def test_a_bad_field_is_named_with_what_is_expected(change: dict, expected: str) -> None:
    raw = _raw("notice-weihai-2016.yaml") | change
    with pytest.raises(models.DataError) as caught:
        models.parse(raw, "notice", "weihai.yaml")
    assert f"weihai.yaml: {expected}" in str(caught.value)


def test_missing_field_and_wrong_kind() -> None:
    raw = _raw("letters-2024.yaml")
    del raw["party_a"]
    with pytest.raises(models.DataError, match=r"party_a: Field required"):
        models.parse(raw, "letter")
    with pytest.raises(models.DataError, match="is a 'letter', not a 'notice'"):
        models.parse(_raw("letters-2024.yaml"), "notice")


def test_summary_sections_are_all_required() -> None:
    raw = _raw("summary-2024.yaml")
    del raw["sections"]["存在问题"]
    with pytest.raises(models.DataError, match=r"sections\.存在问题: Field required"):
        models.parse(raw, "summary")


def test_notice_text_in_order(tmp_path: Path) -> None:
    data = models.load(DATA / "notice-dehua-2024.yaml", "notice")
    title_lines = "德化县民政局关于开展2024年全县\n民政服务机构"
    text = _text(documents.build_notice(data).to_bytes()).replace(
        title_lines, title_lines.replace("\n", ""))
    # The seed's mistyped "3、" comes out as 三、; the note is in parentheses.
    assert "三、推进重大事故隐患判定标准宣贯落实" in text
    assert "（联系人及联系方式：肖元春23522006）" in text
    order = [text.index(part) for part in (
        "德化县民政局文件", data.title, "各乡镇民政办，局机关各股室、各服务机构：", "五、深入开展",
        "德化县民政局\n2024年5月31日", "德化县民政局\t2024年5月31日印发")]
    assert order == sorted(order)


def test_notice_with_attachments_and_appendix_pages(tmp_path: Path) -> None:
    raw = _raw("notice-dehua-2024.yaml") | {
        "attachments": ["活动安排表", "报送材料要求"],
        "appendix": [{"title": "活动安排表", "body": "| 时间 | 内容 |\n|---|---|\n| 6月 | 演练 |"},
                     {"title": "报送材料要求", "body": "照片不低于1920像素×1080像素。"}],
        "cc": ["县安委办", "县消防救援大队"]}
    data = models.parse(raw, "notice")
    document = docx.Document(io.BytesIO(documents.build_notice(data).to_bytes()))
    paragraphs = [p for p in document.paragraphs if p.text]
    texts = [p.text for p in paragraphs]
    assert "附件：1.活动安排表" in texts and "2.报送材料要求" in texts
    labels = [p for p in paragraphs if p.text in ("附件1", "附件2")]
    assert [p.text for p in labels] == ["附件1", "附件2"]
    assert all(p.paragraph_format.page_break_before for p in labels)
    imprint = document.tables[-1]
    assert imprint.rows[0].cells[0].text == "抄送：县安委办，县消防救援大队。"
    assert imprint.rows[1].cells[0].text == "德化县民政局\t2024年5月31日印发"


def test_appendix_without_attachment_title_is_refused() -> None:
    raw = _raw("notice-dehua-2024.yaml") | {"appendix": [{"title": "表", "body": "内容"}]}
    with pytest.raises(models.DataError, match="appendix has 1 pages but attachments lists 0"):
        models.parse(raw, "notice")


def test_letter_default_text_and_overrides() -> None:
    data = models.load(DATA / "letters-2024.yaml", "letter")
    unit = data.units[2]
    text = _text(documents.build_letter(data, unit).to_bytes())
    # Targets come from the data; duties, which the data leaves out, from the template.
    assert "1.全年不发生较大及以上安全责任事故，一般事故起数同比下降。" in text
    assert "二、甲方职责" in text and "三、乙方职责" in text and "四、考核与奖惩" in text
    assert "乙方：德化县儿童福利院" in text and "强化儿童福利机构安全管理主体责任" in text
    assert "本责任书有效期自2024年1月1日起至2024年12月31日止。" in text
    assert "甲方（盖章）" in text and "乙方（盖章）" in text and "2024年6月3日" in text
    custom = data.model_copy(update={"duties": models.Duties(party_b=["只此一条"])})
    text = _text(documents.build_letter(custom, unit).to_bytes())
    assert "1.只此一条。" in text and "2.建立健全" not in text


def test_summary_intake_table_from_rows() -> None:
    data = models.load(DATA / "summary-2024.yaml", "summary")
    rows = [ROW | {"name": "德化县社会福利中心", "submissions": 2, "documents_ok": 1,
                   "photos_ok": 5, "photos_failed": 1, "videos_ok": 1, "complete": True}, ROW]
    document = docx.Document(io.BytesIO(documents.build_summary(data, rows).to_bytes()))
    table = document.tables[0]
    assert [c.text for c in table.rows[1].cells] == ["德化县社会福利中心", "2", "1", "5/1", "1/0",
                                                     "是"]
    assert [c.text for c in table.rows[2].cells][-1] == "否"
    text = "\n".join(p.text for p in document.paragraphs)
    for heading in ("一、基本情况", "二、主要做法", "三、取得成效", "四、存在问题", "五、下步打算"):
        assert heading in text
    assert "按照《德化县民政局关于开展2024年全县民政服务机构“安全生产月”活动的通知》" in text
    assert text.rstrip().endswith("特此报告。\n\n德化县民政局\n2024年6月28日")


def test_summary_says_so_when_nothing_was_received() -> None:
    data = models.load(DATA / "summary-2024.yaml", "summary")
    text = _text(documents.build_summary(data, [ROW, ROW | {"name": "甲"}]).to_bytes())
    assert "截至目前，尚未收到各单位报送材料。" in text
    no_intake = data.model_copy(update={"intake": False})
    text = _text(documents.build_summary(no_intake, [ROW]).to_bytes())
    assert "尚未收到" not in text and "报送活动材料情况" not in text


def test_a_template_in_templates_dir_overrides_the_builtin_one(tmp_path: Path) -> None:
    (tmp_path / "letter.md.j2").write_text(
        "乙方：{{ unit.name }}\n\n# 自定义条款\n\n# 第二条\n\n{{ year }}年专用文本。\n",
        encoding="utf-8")
    data = models.load(DATA / "letters-2024.yaml", "letter")
    env = documents.environment(tmp_path)
    text = _text(documents.build_letter(data, data.units[0], env).to_bytes())
    assert "一、自定义条款" in text and "二、第二条" in text and "2024年专用文本。" in text
    assert "甲方职责" not in text
    # Only the file that is there overrides: the summary still comes from the built-in.
    summary = models.load(DATA / "summary-2024.yaml", "summary")
    assert "特此报告。" in _text(documents.build_summary(summary, [], env).to_bytes())


@pytest.mark.parametrize(("template", "error"), [
    ("{{ body }}\n{{ no_such_field }}\n", r"notice\.md\.j2:2: 'no_such_field' is undefined"),
    # A Python error inside the template too names the file and line, not a traceback.
    ("{{ body }}\n\n{{ 1 + 'a' }}\n", r"notice\.md\.j2:3: TypeError: unsupported operand"),
])
def test_template_error_names_the_file(tmp_path: Path, template: str, error: str) -> None:
    (tmp_path / "notice.md.j2").write_text(template, encoding="utf-8")
    data = models.load(DATA / "notice-dehua-2024.yaml", "notice")
    with pytest.raises(documents.TemplateError, match=error):
        documents.build_notice(data, documents.environment(tmp_path))


def test_batch_letters_equal_single_builds(tmp_path: Path) -> None:
    """The fast path writes the same document.xml as building each letter on its own."""
    data = models.load(DATA / "letters-2024.yaml", "letter")
    factory = batch.LetterFactory(data)
    for unit in data.units[:3]:
        fast = zipfile.ZipFile(io.BytesIO(factory.render(unit)))
        single = zipfile.ZipFile(io.BytesIO(documents.build_letter(data, unit).to_bytes()))
        assert fast.namelist() == single.namelist()
        for name in fast.namelist():
            if not name.startswith("docProps/"):
                assert fast.read(name) == single.read(name), name


def test_batch_in_two_processes_writes_one_file_per_unit(tmp_path: Path) -> None:
    data = models.load(DATA / "letters-2024.yaml", "letter")
    units = [models.LetterUnit(name=f"测试单位{i:02d}/分部", category="养老机构")
             for i in range(batch.PARALLEL_FROM + 5)]
    many = data.model_copy(update={"units": units})
    done: list[Path] = []
    paths = docgen.generate(many, tmp_path / "letters", jobs=2, on_done=done.append)
    assert len(paths) == len(units) == len(done)
    assert sorted(p.name for p in (tmp_path / "letters").iterdir()) == [
        f"{i + 1:02d}-测试单位{i:02d}_分部.docx" for i in range(len(units))]
    assert "乙方：测试单位07/分部" in _text(tmp_path / "letters" / "08-测试单位07_分部.docx")


def test_markup_blocks_reach_the_document() -> None:
    blocks = markup.parse("## 加强领导。要重视。")
    data = models.load(DATA / "notice-dehua-2024.yaml", "notice")
    document = documents.build_notice(data.model_copy(update={"body": "## 加强领导。要重视。"}))
    paragraph = next(p for p in document.doc.paragraphs if p.text.startswith("（一）"))
    assert [run.text for run in paragraph.runs] == ["（一）加强领导。", "要重视。"]
    assert blocks[0].runs_in


def test_a_missing_templates_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(documents.TemplateError,
                       match=rf"docgen\.templates_dir: {tmp_path / 'none'}: no such folder"):
        documents.environment(tmp_path / "none")
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(documents.TemplateError, match="is not a folder"):
        documents.environment(tmp_path / "file")


@pytest.mark.parametrize(("typed", "printed"), [
    ("威民发[2016]064号", "威民发〔2016〕64号"),
    ("威民发（2016）64号", "威民发〔2016〕64号"),
    ("威民发(2016)64号", "威民发〔2016〕64号"),
    ("德民【2024】 007 号", "德民〔2024〕7号"),
    ("德民［2024］10号", "德民〔2024〕10号"),
    ("威民发〔2016〕064号", "威民发〔2016〕64号"),
    ("威民发〔2016〕64号", "威民发〔2016〕64号"),
    # Not the pattern: left as typed.
    ("威民发〔2016〕第64号", "威民发〔2016〕第64号"),
    ("威民发[16]64号", "威民发[16]64号"),
    ("威民发(2016)0号", "威民发(2016)0号"),
    ("内部资料", "内部资料"),
])
def test_doc_number_is_printed_in_the_standard_form(typed: str, printed: str) -> None:
    raw = _raw("notice-weihai-2016.yaml") | {"number": typed}
    assert models.parse(raw, "notice").number == printed
    summary = _raw("summary-2024.yaml") | {"number": typed}
    assert models.parse(summary, "summary").number == printed


def test_issuer_mark_defaults_to_the_issuer_for_both_kinds() -> None:
    notice = models.parse(_raw("notice-dehua-2024.yaml"), "notice")
    summary = models.parse(_raw("summary-2024.yaml") | {"mark": "德化县民政局函件"}, "summary")
    assert notice.issuer_mark == "德化县民政局文件"
    assert summary.issuer_mark == "德化县民政局函件"


def test_an_impossible_date_names_its_key(tmp_path: Path) -> None:
    path = tmp_path / "notice.yaml"
    text = (DATA / "notice-dehua-2024.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("date: 2024-05-31", "date: 2024-13-01"), encoding="utf-8")
    with pytest.raises(models.DataError, match=r"notice\.yaml: date: “2024-13-01”：没有13月"):
        models.load(path, "notice")


def test_letter_file_names_are_unique_and_usable() -> None:
    names = ["a/b", "a:b", "..", "...", " ", "CON", "A_B", "con.txt", "lpt1 ", "德化县殡仪馆"]
    units = [models.LetterUnit(name=name) for name in names]
    files = batch.letter_filenames(units)
    assert files == ["01-a_b.docx", "02-a_b.docx", "03-单位.docx", "04-单位.docx",
                     "05-单位.docx", "06-_CON.docx", "07-A_B.docx", "08-_con.txt.docx",
                     "09-_lpt1.docx", "10-德化县殡仪馆.docx"]
    assert len({name.casefold() for name in files}) == len(files)


def test_a_long_unit_name_is_cut_to_whole_characters() -> None:
    long = "德化县" * 100  # 900 bytes of UTF-8
    (first, second) = batch.letter_filenames([models.LetterUnit(name=long),
                                              models.LetterUnit(name=long + "甲")])
    assert len(second.encode()) <= 255 and first.startswith("01-德化县德化县")
    assert first.removesuffix(".docx") == "01-" + "德化县" * 22  # 198 bytes of name
    assert second == "02-" + "德化县" * 22 + ".docx"


def test_a_body_ending_in_a_table_is_kept_with_the_signature() -> None:
    data = models.load(DATA / "notice-dehua-2024.yaml", "notice")
    body = "情况如下：\n\n| 单位 | 照片 |\n| --- | --- |\n| 甲 | 1 |\n| 乙 | 2 |"
    document = docx.Document(io.BytesIO(
        documents.build_notice(data.model_copy(update={"body": body})).to_bytes()))
    table = document.tables[0]
    assert all(p.paragraph_format.keep_with_next for p in table.rows[-1].cells[0].paragraphs)
    assert not any(p.paragraph_format.keep_with_next for p in table.rows[1].cells[0].paragraphs)
    # The paragraphs from the table to the date hold together; the date ends the chain.
    paragraphs = document.paragraphs
    name = next(i for i, p in enumerate(paragraphs) if p.text == "德化县民政局")
    blank, date = paragraphs[name - 1], paragraphs[name + 1]
    assert blank.text == "" and date.text == "2024年5月31日"
    assert [p.paragraph_format.keep_with_next for p in (blank, paragraphs[name], date)] == [
        True, True, None]


@pytest.mark.parametrize("typed", ["2025年5月28日", "2025年05月28日", "2025/5/28", "2025.5.28",
                                   "2025-5-28", "2025-05-28", " 2025 年 5 月 28 日 "])
def test_dates_as_clerks_type_them(typed: str) -> None:
    raw = _raw("notice-dehua-2024.yaml") | {"date": typed, "printed_on": typed}
    notice = models.parse(raw, "notice")
    assert notice.date == notice.printed_on == date(2025, 5, 28)


@pytest.mark.parametrize(("typed", "said"), [
    ("2025年2月29日", "“2025年2月29日”：2025年2月只有28天 (2025-2 has 28 days)"),
    ("2024/4/31", "“2024/4/31”：2024年4月只有30天 (2024-4 has 30 days)"),
    ("2025.13.1", "“2025.13.1”：没有13月，月份为1至12 (no month 13)"),
    ("5月28日", "“5月28日”不是日期，请写作 2025年5月28日 或 2025-05-28"),
])
def test_an_impossible_date_says_what_is_wrong_in_one_line(typed: str, said: str) -> None:
    raw = _raw("letters-2024.yaml") | {"signed_on": typed}
    with pytest.raises(models.DataError) as caught:
        models.parse(raw, "letter", "letters.yaml")
    message = str(caught.value)
    assert message.startswith(f"letters.yaml: signed_on: {said}")
    assert "\n" not in message


def _broken(tmp_path: Path, line: int, change: Callable[[str], str]) -> Path:
    """The summary example with its line ``line`` (1-based) changed."""
    lines = (DATA / "summary-2024.yaml").read_text(encoding="utf-8").split("\n")
    lines[line - 1] = change(lines[line - 1])
    path = tmp_path / "summary.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.mark.parametrize(("line", "change", "hint"), [
    (14, lambda text: " " + text, "缩进多了"),  # a key one space too far in
    (12, lambda text: "  " + text.lstrip(), "缺少“键: 值”的冒号"),  # a block line too far out
    (13, lambda text: "   " + text.lstrip(), "缩进与同一级的键不一致"),  # a key off its level
])
def test_a_yaml_mistake_is_reported_at_its_line_and_quoted(
        tmp_path: Path, line: int, change: Callable[[str], str], hint: str) -> None:
    path = _broken(tmp_path, line, change)
    quoted = path.read_text(encoding="utf-8").split("\n")[line - 1].strip()
    with pytest.raises(models.DataError) as caught:
        models.load(path, "summary")
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: not a valid YAML file")
    assert hint in message and message.endswith(f"「{quoted}」")
    assert "\n" not in message
