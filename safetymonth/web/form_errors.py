"""A form's data checked by docgen's own models, each problem said in Chinese beside the
field it belongs to (never pydantic's or PyYAML's English).

The data is checked as it will be saved: dumped as YAML and read back the way ``generate``
reads a data file, so what passes here is what the command line accepts.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from safetymonth.docgen import models
from safetymonth.web.document_forms import FORMS, field_of

# Model-wide rules (a validator over several fields), said where the clerk can fix them.
_RULES = {
    "term": ("term.end", "截止日期不能早于起始日期"),
    "units": ("units", "单位名称重复，每个单位只能有一份责任书：{detail}"),
    "": ("appendix", "附件正文比附件说明多：请为每份附件正文在“附件”中写上名称"),
}
# Where a problem with a whole mapping (term, enclosed, sections, duties) is shown.
_MAPPINGS = {"term": "term.start", "enclosed": "enclosed.title", "duties": "duties.party_a",
             "sections": "sections.基本情况"}


def dump(data: dict[str, Any]) -> str:
    """The data file's text, as the console saves it."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def check(kind: str, data: dict[str, Any]) -> tuple[models.Data | None, dict[str, str]]:
    """The checked document, or ``None`` and ``{field path: Chinese message}``."""
    raw = yaml.load(dump(data), Loader=models._Loader)  # a SafeLoader, as docgen.load
    try:
        return models.MODELS[kind].model_validate(raw), {}
    except ValidationError as error:
        errors: dict[str, str] = {}
        for detail in error.errors():
            path, row = _where(kind, detail["loc"])
            message = _message(detail)
            rule = _rule(detail)
            if rule is not None:
                path, message, row = *rule, None
            if row is not None:
                message = f"第 {row + 1} 行{_column(kind, path, detail['loc'])}：{message}"
            errors.setdefault(path, message)
        return None, errors


def _where(kind: str, loc: tuple[int | str, ...]) -> tuple[str, int | None]:
    """The form field a problem's location belongs to, and its row in a list."""
    keys = [str(part) for part in loc if isinstance(part, str)]
    path, row = "", None
    for depth in range(len(keys), 0, -1):
        candidate = ".".join(keys[:depth])
        if field_of(kind, candidate) is not None:
            path = candidate
            break
    if path:
        position = loc.index(path.split(".")[-1]) + 1 if path.split(".")[-1] in loc else None
        if position is not None and position < len(loc) and isinstance(loc[position], int):
            row = loc[position]
        return path, row
    head = keys[0] if keys else ""
    if head in _MAPPINGS:
        return _MAPPINGS[head], None
    return FORMS[kind][0].path, None


def _column(kind: str, path: str, loc: tuple[int | str, ...]) -> str:
    """（单位名称）for a problem in one column of a row of several."""
    field = field_of(kind, path)
    columns = {column.key: column.label for column in field.columns} if field else {}
    label = columns.get(str(loc[-1])) if len(columns) > 1 else None
    return f"（{label}）" if label else ""


def _rule(detail: ErrorDetails) -> tuple[str, str] | None:
    """(field, message) of a model-wide rule that failed (a validator over several fields)."""
    loc = detail["loc"]
    if detail["type"] != "value_error" or len(loc) > 1:
        return None
    found = _RULES.get(str(loc[0]) if loc else "")
    if found is None:
        return None
    reason = str((detail.get("ctx") or {}).get("error", ""))
    return found[0], found[1].format(detail=reason.rpartition(": ")[2])


def _message(detail: ErrorDetails) -> str:
    kind, context = detail["type"], detail.get("ctx") or {}
    if kind in ("control_character", "date_text", "date_month", "date_day"):
        return detail["msg"].split(" (")[0]  # our own messages: Chinese, then English
    simple = {
        "missing": "必填",
        "string_too_short": "不能为空",
        "string_too_long": "太长：最多 {max_length} 个字",
        "too_long": "太多：最多 {max_length} 项",
        "too_short": "请至少勾选或填写 {min_length} 项",
        "int_parsing": "请填写年份数字，如 2024",
        "int_type": "请填写年份数字，如 2024",
        "greater_than_equal": "不能小于 {ge}",
        "less_than_equal": "不能大于 {le}",
    }
    if kind in simple:
        return simple[kind].format(**context)
    if kind.startswith("date"):
        return "不是有效的日期，请用日期选择器选择"
    return "填写有误，请检查"
