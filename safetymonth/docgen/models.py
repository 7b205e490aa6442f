"""The data files of ``safetymonth generate``: notice, letter and summary.

Each model refuses unknown keys and wrong values; :func:`load` turns pydantic's errors into
one line per problem, naming the key and what is expected.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from safetymonth.config import describe_validation_error

# Bounds on every field: the form posts what a clerk typed (or anything), and laying out a
# title of 300,000 characters took 27 s. Control characters (but TAB, LF, CR) cannot be put
# in a .docx at all, so they are refused here, before anything is saved or generated.
MAX_TITLE = 200
MAX_TEXT = 500
MAX_LONG_TEXT = 20_000
MAX_ITEMS = 50
MAX_UNITS = 5_000
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def printable(value: str) -> str:
    """Text without control characters, which a Word document cannot hold."""
    found = CONTROL.search(value)
    if found:
        raise PydanticCustomError(
            "control_character", "第 {position} 个字符是不可见的控制字符 {code}，请删去 "
            "(a control character)", {"position": found.start() + 1,
                                      "code": f"U+{ord(found.group()):04X}"})
    return value


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(printable)]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE), AfterValidator(printable)]
LongText = Annotated[str, Field(min_length=1, max_length=MAX_LONG_TEXT),
                     AfterValidator(printable)]
# 发文字号 as often typed: the year in [ ], ( ), （ ）, 【 】 or ［ ］, the number with zeros.
DOC_NUMBER = re.compile(
    r"^(?P<prefix>.*?)\s*[\[(（【［〔]\s*(?P<year>\d{4})\s*[\])）】］〕]\s*0*(?P<seq>[1-9]\d*)\s*号$")


# Dates as clerks type them: 2025-05-28, 2025年5月28日, 2025/5/28, 2025.5.28.
DATE_TEXT = re.compile(r"^\s*(?P<y>\d{4})\s*(?:年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日?"
                       r"|(?P<sep>[-/.])\s*(?P<m2>\d{1,2})\s*(?P=sep)\s*(?P<d2>\d{1,2}))\s*$")


def parse_date(value: object) -> object:
    """A date from YAML: a date already, or text in one of DATE_TEXT's spellings.

    An impossible date (2025年2月30日) is refused with what is wrong, in Chinese and English.
    """
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, str):
        return value
    match = DATE_TEXT.match(value)
    if not match:
        raise PydanticCustomError(
            "date_text", "“{text}”不是日期，请写作 2025年5月28日 或 2025-05-28 "
            "(not a date; write 2025年5月28日 or 2025-05-28)", {"text": value})
    year, month = int(match["y"]), int(match["m"] or match["m2"])
    day = int(match["d"] or match["d2"])
    if not 1 <= month <= 12:
        raise PydanticCustomError(
            "date_month", "“{text}”：没有{month}月，月份为1至12 (no month {month})",
            {"text": value, "month": month})
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        raise PydanticCustomError(
            "date_day", "“{text}”：{year}年{month}月只有{days}天 "
            "({year}-{month} has {days} days)",
            {"text": value, "year": year, "month": month, "days": days})
    return date(year, month, day)


Date = Annotated[date, BeforeValidator(parse_date)]


class DocgenError(Exception):
    """Anything that stops a document being generated; the message is for the user."""


class DataError(DocgenError):
    """A data file that cannot be used; the message names the key and what is expected."""


class OutputError(DocgenError):
    """An output file or folder that cannot be written; the message names it."""

    @classmethod
    def from_os(cls, error: OSError, path: Path) -> OutputError:
        where = error.filename or path
        if isinstance(error, FileExistsError | NotADirectoryError):
            return cls(f"{where}: cannot write there: a file is in the way of a folder")
        return cls(f"{where}: cannot write: {error.strerror or error}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def cn_date(value: date) -> str:
    """2016-05-30 → 2016年5月30日: Arabic numerals, no leading zeros (GB/T 9704 7.3.5)."""
    return f"{value.year}年{value.month}月{value.day}日"


def doc_number(text: str) -> str:
    """威民发[2016]064号 → 威民发〔2016〕64号 (GB/T 9704 7.2.4: the year in 六角括号〔〕, the
    number without leading zeros). Text that does not look like a 发文字号 is left as typed."""
    match = DOC_NUMBER.match(text.strip())
    if not match:
        return text
    return f"{match['prefix']}〔{match['year']}〕{match['seq']}号"


class _Issued(_Strict):
    """A document under an issuer's mark: the issuer, the mark and the 发文字号."""

    issuer: Text
    mark: Text | None = None  # issuer mark; default issuer + 文件
    number: Text | None = None  # 发文字号, e.g. 威民发〔2016〕64号
    # 签发人 (a 上行文): a name or a list of names
    signer: list[Text] = Field([], max_length=MAX_ITEMS)

    @field_validator("signer", mode="before")
    @classmethod
    def _signer_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("number")
    @classmethod
    def _standard_number(cls, value: str | None) -> str | None:
        return None if value is None else doc_number(value)

    @property
    def issuer_mark(self) -> str:
        return self.mark or f"{self.issuer}文件"


class Part(_Strict):
    """A document printed after the notice (the plan it 印发s) or an 附件 page."""

    title: Title
    body: LongText


class Notice(_Issued):
    kind: Literal["notice"] = "notice"
    title: Title
    recipients: Text | None = None
    body: LongText
    attachments: list[Text] = Field([], max_length=MAX_ITEMS)
    signature: Text | None = None  # default: the issuer
    date: Date
    note: LongText | None = None
    cc: list[Text] = Field([], max_length=MAX_ITEMS)
    printed_by: Text | None = None  # default: the issuer
    printed_on: Date | None = None  # default: the date
    enclosed: Part | None = None
    appendix: list[Part] = Field([], max_length=MAX_ITEMS)

    @field_validator("cc", mode="before")
    @classmethod
    def _cc_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _appendix_matches(self) -> Notice:
        if len(self.appendix) > len(self.attachments):
            raise ValueError(f"appendix has {len(self.appendix)} pages but attachments lists "
                             f"{len(self.attachments)} titles; list each 附件 in attachments")
        return self


class Term(_Strict):
    start: Date
    end: Date

    @model_validator(mode="after")
    def _ordered(self) -> Term:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class Duties(_Strict):
    party_a: list[LongText] | None = Field(None, max_length=MAX_ITEMS)
    party_b: list[LongText] | None = Field(None, max_length=MAX_ITEMS)


class LetterUnit(_Strict):
    name: Text
    category: Text | None = None
    head: Text | None = None


class Letter(_Strict):
    kind: Literal["letter"] = "letter"
    title: Title
    party_a: Text
    year: int = Field(ge=2000, le=2100)
    term: Term
    # None: the template's defaults
    targets: list[LongText] | None = Field(None, max_length=MAX_ITEMS)
    duties: Duties = Duties()
    units: list[LetterUnit] = Field(min_length=1, max_length=MAX_UNITS)
    signed_on: Date | None = None
    # The month's name in the body (安全管理, 安全生产); default: the one the title names.
    campaign: Text | None = None

    @property
    def campaign_name(self) -> str:
        return self.campaign or ("安全生产" if "安全生产" in self.title else "安全管理")

    @field_validator("units")
    @classmethod
    def _unique_names(cls, units: list[LetterUnit]) -> list[LetterUnit]:
        names = [unit.name for unit in units]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"unit names must be unique (one file each): {', '.join(duplicates)}")
        return units


class Sections(_Strict):
    """The five parts of a summary, keyed by their Chinese headings in the data file."""

    basic: LongText = Field(alias="基本情况")
    methods: LongText = Field(alias="主要做法")
    results: LongText = Field(alias="取得成效")
    problems: LongText = Field(alias="存在问题")
    plans: LongText = Field(alias="下步打算")


class Summary(_Issued):
    kind: Literal["summary"] = "summary"
    title: Title
    recipients: Text
    basis: LongText
    sections: Sections
    intake: bool = False
    signature: Text | None = None
    date: Date


Data = Notice | Letter | Summary
MODELS: dict[str, type[Notice] | type[Letter] | type[Summary]] = {
    "notice": Notice, "letter": Letter, "summary": Summary}


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that an impossible date (2024-13-01) stays a string.

    PyYAML raises a bare ValueError for it, with no key; as a string it reaches the model,
    which names the key and says what is wrong.
    """

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> object:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def load(path: Path, kind: str, roster: Sequence[Mapping[str, str]] = ()) -> Data:
    """Read and check a YAML data file of the given kind (a letter's units default to
    ``roster``, see :func:`parse`)."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # a SafeLoader
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from error
    except yaml.MarkedYAMLError as error:
        raise DataError(describe_yaml_error(error, path)) from error
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"{path}: not a valid YAML file: {error}") from error
    return parse(raw, kind, str(path), roster)


# PyYAML's problems, said for a clerk (the key: value layout is what goes wrong).
_YAML_HINTS = {
    "could not find expected ':'": "缺少“键: 值”的冒号，或缩进与上一行不一致",
    "mapping values are not allowed here": "缩进多了，或值里有未加引号的“: ”",
    "expected <block end>": "缩进与同一级的键不一致",
    "found character '\\t'": "用了制表符，缩进请用空格",
}


def describe_yaml_error(error: yaml.MarkedYAMLError, path: Path) -> str:
    """One line: the file, the line at fault, what is wrong and that line quoted.

    Where the scanner was reading a key and the problem only shows on the next line, the
    key's line (the context) is the one at fault; otherwise the problem's own line is.
    """
    mark = error.problem_mark
    if error.context == "while scanning a simple key" and error.context_mark is not None:
        mark = error.context_mark
    problem = (error.problem or "").strip()
    hint = next((text for key, text in _YAML_HINTS.items() if problem.startswith(key)), None)
    if mark is None:
        return f"{path}: not a valid YAML file: {problem}"
    lines = (mark.buffer or "").split("\n") if mark.buffer else []
    quoted = lines[mark.line].strip().rstrip("\x00") if mark.line < len(lines) else ""
    said = f"{hint} ({problem})" if hint else problem
    return (f"{path}:{mark.line + 1}: not a valid YAML file (YAML 格式错误): {said}"
            + (f": 「{quoted}」" if quoted else ""))


def parse(raw: object, kind: str, source: str = "data",
          roster: Sequence[Mapping[str, str]] = ()) -> Data:
    """Check already-parsed data (a mapping) as a ``kind`` document. ``roster``: the units
    of the campaign (``{name, category, head}``), which a letter's data without ``units``
    takes, and which give a listed unit its 类别 and 负责人 when the data leaves them out."""
    if not isinstance(raw, dict):
        raise DataError(f"{source}: expected a mapping of keys (issuer: …, title: …)")
    if kind == "letter" and roster:
        raw = with_roster(raw, roster)
    declared = raw.get("kind", kind)
    if declared != kind:
        raise DataError(f"{source}: kind: the file is a {declared!r}, not a {kind!r}")
    try:
        return MODELS[kind].model_validate(raw)
    except ValidationError as error:
        raise DataError(describe_validation_error(error, source)) from error


def with_roster(raw: dict[str, Any], roster: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """A letter's data with its units from the roster: all of them when it lists none, and
    each listed unit's missing 类别 (``category``) and 负责人 (``head``) from the roster's
    unit of the same name. The clerk keeps these in one sheet, not again in the data."""
    units = raw.get("units")
    if not units:
        return {**raw, "units": [dict(unit) for unit in roster]}
    if not isinstance(units, list):
        return raw  # the model says what is wrong
    by_name = {unit["name"]: unit for unit in roster}
    filled = []
    for unit in units:
        known = by_name.get(unit.get("name")) if isinstance(unit, dict) else None
        filled.append({**{key: value for key, value in known.items() if key != "name"},
                       **{key: value for key, value in unit.items() if value is not None}}
                      if known else unit)
    return {**raw, "units": filled}
