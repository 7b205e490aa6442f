"""The forms of the notice, the letters and the summary: one table of Chinese labels and
hints (GB/T 9704's names) mapped to the keys of ``generate``'s data files, and the way
between a data file, a posted form and what the page shows.

A form's state is ``{path: value}``: text for a field, ``True``/``False`` for a tick, and a
list of rows (``{column: text}``) for a list. Rows are kept as typed (blank ones too) until
the data is made from them, so a form sent back with a mistake shows everything typed.
Rows are added, removed and moved by the page's script, or, without it, by the server
(``op`` buttons): the structure works as a plain POST.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic_core import PydanticCustomError

from safetymonth.docgen.models import (
    MAX_ITEMS,
    MAX_LONG_TEXT,
    MAX_TEXT,
    MAX_TITLE,
    MAX_UNITS,
    parse_date,
)


@dataclass(frozen=True)
class Column:
    """One column of a list's rows; ``key`` "" is a list of plain texts."""

    key: str
    label: str
    kind: str = "text"  # text | area | tick
    max_length: int = MAX_TEXT


@dataclass(frozen=True)
class FormField:
    path: str  # the data file's key; a dot goes one mapping down (term.start)
    label: str
    hint: str
    kind: str = "text"  # text | area | date | year | tick | rows
    max_length: int = MAX_TEXT
    required: bool = False
    columns: tuple[Column, ...] = ()
    max_rows: int = MAX_ITEMS
    add_label: str = "添加一行"

    @property
    def name(self) -> str:
        """The form name of a single field (``f:title``) or the prefix of a list's columns."""
        return f"{'r' if self.kind == 'rows' else 'f'}:{self.path}"

    @property
    def dom_id(self) -> str:
        return "field-" + self.path.replace(".", "-")


LINE = (Column("", "内容", "area", MAX_LONG_TEXT),)
SHORT_LINE = (Column("", "内容"),)
PARTS = (Column("title", "标题", "text", MAX_TITLE), Column("body", "内容", "area", MAX_LONG_TEXT))
UNITS = (Column("tick", "选用", "tick"), Column("name", "单位名称"), Column("category", "类别"),
         Column("head", "负责人"))

_ISSUER = FormField("issuer", "发文机关", "发文机关全称或规范化简称，如：威海市民政局",
                    required=True)
_MARK = FormField("mark", "发文机关标志", "红头上的文字；留空则为“发文机关＋文件”")
_NUMBER = FormField("number", "发文字号",
                    "如：威民发〔2016〕64号；年份括号和序号按规范整理；没有可留空")
_SIGNER = FormField("signer", "签发人", "上行文写签发人姓名，每行一人；下行文留空",
                    "rows", columns=SHORT_LINE, add_label="添加签发人")
_TITLE = FormField("title", "标题", "如：××关于××的通知；不超过200字", max_length=MAX_TITLE,
                   required=True)
_SIGNATURE = FormField("signature", "落款", "署名的机关；留空则为发文机关")
_DATE = FormField("date", "成文日期", "印出为“2016年5月30日”", "date", required=True)

NOTICE = (
    _ISSUER,
    _MARK, _NUMBER, _SIGNER, _TITLE,
    FormField("recipients", "主送机关", "收文机关，如：各区市民政局，局机关各科室"),
    FormField("body", "正文", "空一行分段；以 # 开头的一行是一级标题（一、），## 二级（（一）），"
              "### 三级（1.）", "area", MAX_LONG_TEXT, True),
    FormField("attachments", "附件", "附件说明：每行一个附件的名称，按顺序", "rows",
              columns=SHORT_LINE, add_label="添加附件"),
    FormField("appendix", "附件正文", "附件页的标题和内容，顺序与附件说明一致；没有可不填",
              "rows", columns=PARTS, add_label="添加附件正文"),
    FormField("enclosed.title", "印发的文件标题",
              "通知印发的方案等文件的标题，印在通知之后；没有可留空", max_length=MAX_TITLE),
    FormField("enclosed.body", "印发的文件正文", "该文件的正文，写法同通知正文", "area",
              MAX_LONG_TEXT),
    _SIGNATURE, _DATE,
    FormField("note", "附注", "如：联系人及联系方式", "area", MAX_LONG_TEXT),
    FormField("cc", "抄送", "抄送机关，每行一个", "rows", columns=SHORT_LINE,
              add_label="添加抄送机关"),
    FormField("printed_by", "印发机关", "版记中的印发机关，如：××办公室；留空则为发文机关"),
    FormField("printed_on", "印发日期", "版记中的印发日期；留空则同成文日期", "date"),
)

LETTER = (
    FormField("title", "标题", "如：2024年度民政服务机构安全管理责任书", max_length=MAX_TITLE,
              required=True),
    FormField("party_a", "甲方", "签订责任书的主管部门，如：德化县民政局", required=True),
    FormField("year", "年度", "责任书的年度，如：2024", "year", required=True),
    FormField("term.start", "责任期限（起）", "责任书生效的日期", "date", required=True),
    FormField("term.end", "责任期限（止）", "不能早于起始日期", "date", required=True),
    FormField("campaign", "活动名称", "正文里“××目标”的名称，如：安全管理、安全生产；留空则按标题"),
    FormField("targets", "目标", "每行一项；全部留空则用模板的默认目标", "rows",
              columns=LINE, add_label="添加目标"),
    FormField("duties.party_a", "甲方职责", "每行一项；全部留空则用模板的默认职责", "rows",
              columns=LINE, add_label="添加甲方职责"),
    FormField("duties.party_b", "乙方职责", "每行一项；全部留空则用模板的默认职责", "rows",
              columns=LINE, add_label="添加乙方职责"),
    FormField("units", "单位", "勾选的单位各得一份责任书（乙方）；名单来自单位登记，可补充",
              "rows", columns=UNITS, max_rows=MAX_UNITS, add_label="添加单位"),
    FormField("signed_on", "签订日期", "印在签章处；留空则留出“年月日”待手写", "date"),
)

SECTIONS = ("基本情况", "主要做法", "取得成效", "存在问题", "下步打算")
SUMMARY = (
    _ISSUER, _MARK, _NUMBER, _SIGNER, _TITLE,
    FormField("recipients", "主送机关", "报送的上级机关，如：泉州市民政局", required=True),
    FormField("basis", "报送依据", "据以开展活动的文件，如：《××关于开展××活动的通知》", "area",
              MAX_LONG_TEXT, True),
    *(FormField(f"sections.{name}", f"各部分：{name}", f"总结的“{name}”部分，空一行分段",
                "area", MAX_LONG_TEXT, True) for name in SECTIONS),
    FormField("intake", "附报送情况表",
              "勾选则在“基本情况”后附各单位报送材料情况表（来自系统记录）", "tick"),
    _SIGNATURE, _DATE,
)

FORMS: dict[str, tuple[FormField, ...]] = {"notice": NOTICE, "letter": LETTER, "summary": SUMMARY}
State = dict[str, Any]
_keys = itertools.count(1)


def field_of(kind: str, path: str) -> FormField | None:
    return next((field for field in FORMS[kind] if field.path == path), None)


# --- data file → form ------------------------------------------------------------------------


def state_from_data(kind: str, data: Mapping[str, Any]) -> State:
    """What the form shows for a data file (as ``generate`` reads it)."""
    state: State = {}
    for field in FORMS[kind]:
        raw = _get(data, field.path)
        if field.kind == "rows":
            state[field.path] = _rows_from_data(field, raw)
        elif field.kind == "tick":
            state[field.path] = bool(raw)
        elif field.kind == "date":
            state[field.path] = _iso(raw)
        else:
            state[field.path] = "" if raw is None else str(raw)
    return state


def _rows_from_data(field: FormField, raw: Any) -> list[dict[str, str]]:
    items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    rows = []
    for item in items:
        if field.columns[0].key == "":
            rows.append({"": str(item)})
        elif isinstance(item, Mapping):
            rows.append({column.key: _text(item.get(column.key)) for column in field.columns
                         if column.kind != "tick"} | {"tick": "1", "key": new_key()})
    return rows


def _iso(value: Any) -> str:
    """A date as ``<input type=date>`` holds it (2016-05-30); text that is no date as is."""
    if value is None:
        return ""
    try:
        parsed = parse_date(value)
    except (ValueError, PydanticCustomError):
        return str(value)
    return parsed.isoformat() if isinstance(parsed, dt.date) else str(value)


def with_roster(state: State, roster: Iterable[Mapping[str, str]]) -> State:
    """The letter's units with every unit of the roster not already there, unticked."""
    rows = list(state.get("units", []))
    named = {row.get("name") for row in rows}
    for unit in roster:
        if unit["name"] not in named:
            rows.append({"name": unit["name"], "category": unit.get("category") or "",
                         "head": unit.get("head") or "", "tick": "", "key": new_key()})
    return state | {"units": rows}


def new_key() -> str:
    """A row's key: its tick says which row it ticks whatever the order the rows come in."""
    return f"k{next(_keys)}"


# --- posted form → form ----------------------------------------------------------------------


def state_from_form(kind: str, form: Any) -> State:
    """The form as posted (a starlette FormData: ``get`` and ``getlist``), typed text kept."""
    state: State = {}
    for field in FORMS[kind]:
        if field.kind == "rows":
            state[field.path] = _rows_from_form(field, form)
        elif field.kind == "tick":
            state[field.path] = bool(form.get(field.name))
        else:
            value = form.get(field.name)
            state[field.path] = _clean(value if isinstance(value, str) else "")
    return state


def _rows_from_form(field: FormField, form: Any) -> list[dict[str, str]]:
    columns = {column.key: [_clean(value) for value in form.getlist(
        f"{field.name}.{column.key}" if column.key else field.name) if isinstance(value, str)]
        for column in field.columns if column.kind != "tick"}
    ticked = set(form.getlist(f"t:{field.path}"))
    keys = [value for value in form.getlist(f"{field.name}.key") if isinstance(value, str)]
    count = max(len(values) for values in columns.values())
    rows = []
    for index in range(count):
        row = {key: values[index] if index < len(values) else ""
               for key, values in columns.items()}
        if field.path == "units":
            key = keys[index] if index < len(keys) else new_key()
            row |= {"key": key, "tick": "1" if key in ticked else ""}
        rows.append(row)
    return rows


def _clean(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n")


def apply(kind: str, state: State, op: str) -> State:
    """A structure button pressed without the page's script: ``add:PATH``, ``remove:PATH:I``,
    ``up:PATH:I`` or ``down:PATH:I``. Anything else leaves the form as it was."""
    action, _, rest = op.partition(":")
    path, _, position = rest.partition(":")
    field = field_of(kind, path)
    if field is None or field.kind != "rows":
        return state
    rows = list(state[path])
    index = int(position) if position.isdigit() else -1
    if action == "add" and len(rows) < field.max_rows:
        blank = {column.key: "" for column in field.columns if column.kind != "tick"}
        rows.append(blank | ({"tick": "1", "key": new_key()} if path == "units" else {}))
    elif action == "remove" and 0 <= index < len(rows):
        del rows[index]
    elif action in ("up", "down") and 0 <= index < len(rows):
        other = index - 1 if action == "up" else index + 1
        if 0 <= other < len(rows):
            rows[index], rows[other] = rows[other], rows[index]
    return state | {path: rows}


# --- form → data file ------------------------------------------------------------------------


def data_from_state(kind: str, state: State) -> dict[str, Any]:
    """The data file a form makes: blank fields and rows left out (the defaults apply),
    dates as dates and the year as a number where they read as such."""
    data: dict[str, Any] = {"kind": kind}
    for field in FORMS[kind]:
        value = _value(field, state.get(field.path))
        if value is not None:
            _set(data, field.path, value)
    return data


def _value(field: FormField, raw: Any) -> Any:
    if field.kind == "tick":
        return True if raw else None
    if field.kind == "rows":
        return _rows_value(field, raw or [])
    text = raw or ""
    if not text.strip():
        return None
    if field.kind != "area":
        text = text.strip()  # an area's text is kept as typed: its line breaks are the markup
    if field.kind == "year" and text.isdigit():
        return int(text)
    if field.kind == "date":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return text  # the model says what is wrong with it
    return text


def _rows_value(field: FormField, rows: list[dict[str, str]]) -> list[Any] | None:
    if field.columns[0].key == "":
        items: list[Any] = [row[""].strip() for row in rows if row.get("", "").strip()]
    elif field.path == "units":
        items = [_mapping(row, ("name", "category", "head")) for row in rows
                 if row.get("tick") and any(row.get(key, "").strip() for key in
                                            ("name", "category", "head"))]
    else:
        items = [_mapping(row, ("title", "body")) for row in rows
                 if any(value.strip() for value in row.values())]
    if field.path == "units":
        return items  # none ticked: the model asks for one
    return items or None


def _mapping(row: Mapping[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    """A row as the data file holds it: blank optional columns left out, required ones kept
    (blank) so that the model names them."""
    kept = {key: row.get(key, "").strip() for key in keys}
    return {key: value for key, value in kept.items() if value or key in ("name", "title", "body")}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _get(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for key in parents:
        data = data.setdefault(key, {})
    data[last] = value
