"""The data files of ``safetymonth generate``: notice, letter and summary.

Each model refuses unknown keys and wrong values; :func:`load` turns pydantic's errors into
one line per problem, naming the key and what is expected.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from safetymonth.config import describe_validation_error

Text = Annotated[str, Field(min_length=1)]
# 发文字号 as often typed: the year in [ ], ( ), （ ）, 【 】 or ［ ］, the number with zeros.
DOC_NUMBER = re.compile(
    r"^(?P<prefix>.*?)\s*[\[(（【［〔]\s*(?P<year>\d{4})\s*[\])）】］〕]\s*0*(?P<seq>[1-9]\d*)\s*号$")


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

    @field_validator("number")
    @classmethod
    def _standard_number(cls, value: str | None) -> str | None:
        return None if value is None else doc_number(value)

    @property
    def issuer_mark(self) -> str:
        return self.mark or f"{self.issuer}文件"


class Part(_Strict):
    """A document printed after the notice (the plan it 印发s) or an 附件 page."""

    title: Text
    body: Text


class Notice(_Issued):
    kind: Literal["notice"] = "notice"
    title: Text
    recipients: Text | None = None
    body: Text
    attachments: list[Text] = []
    signature: Text | None = None  # default: the issuer
    date: date
    note: Text | None = None
    cc: list[Text] = []
    printed_by: Text | None = None  # default: the issuer
    printed_on: date | None = None  # default: the date
    enclosed: Part | None = None
    appendix: list[Part] = []

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
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Term:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class Duties(_Strict):
    party_a: list[Text] | None = None
    party_b: list[Text] | None = None


class LetterUnit(_Strict):
    name: Text
    category: Text | None = None
    head: Text | None = None


class Letter(_Strict):
    kind: Literal["letter"] = "letter"
    title: Text
    party_a: Text
    year: int = Field(ge=2000, le=2100)
    term: Term
    targets: list[Text] | None = None  # None: the template's defaults
    duties: Duties = Duties()
    units: list[LetterUnit] = Field(min_length=1)
    signed_on: date | None = None

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

    basic: Text = Field(alias="基本情况")
    methods: Text = Field(alias="主要做法")
    results: Text = Field(alias="取得成效")
    problems: Text = Field(alias="存在问题")
    plans: Text = Field(alias="下步打算")


class Summary(_Issued):
    kind: Literal["summary"] = "summary"
    title: Text
    recipients: Text
    basis: Text
    sections: Sections
    intake: bool = False
    signature: Text | None = None
    date: date


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


def load(path: Path, kind: str) -> Data:
    """Read and check a YAML data file of the given kind."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # a SafeLoader
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from error
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"{path}: not a valid YAML file: {error}") from error
    return parse(raw, kind, str(path))


def parse(raw: object, kind: str, source: str = "data") -> Data:
    """Check already-parsed data (a mapping) as a ``kind`` document."""
    if not isinstance(raw, dict):
        raise DataError(f"{source}: expected a mapping of keys (issuer: …, title: …)")
    declared = raw.get("kind", kind)
    if declared != kind:
        raise DataError(f"{source}: kind: the file is a {declared!r}, not a {kind!r}")
    try:
        return MODELS[kind].model_validate(raw)
    except ValidationError as error:
        raise DataError(describe_validation_error(error, source)) from error
