"""The three kinds of document: data + template → markup → :class:`OfficialDocument`."""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from safetymonth.docgen import markup
from safetymonth.docgen.fonts import DEFAULT_FACES, Faces
from safetymonth.docgen.layout import OfficialDocument, Placement
from safetymonth.docgen.models import DocgenError, Letter, LetterUnit, Notice, Summary, cn_date
from safetymonth.docgen.statistics import statistics

BUILTIN_TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAMES = {"notice": "notice.md.j2", "letter": "letter.md.j2", "summary": "summary.md.j2"}
FULL_STOPS = "。！？；：.!?;:"


@dataclass(frozen=True)
class Options:
    """The ``docgen`` settings that shape a document (config.yaml's ``docgen:``)."""

    faces: Faces = DEFAULT_FACES
    imprint_on_even_page: bool = True
    # Where LibreOffice's page counts are kept for documents the estimator cannot decide
    # (paging.py); None keeps none. The CLI's place for it is under storage.dir.
    layout_cache: Path | None = None


class TemplateError(DocgenError):
    """A template that cannot be read or rendered; names the template file."""


def sentence(text: str) -> str:
    """End a list item with 。 unless it already ends in punctuation."""
    text = text.strip()
    return text if not text or text[-1] in FULL_STOPS else text + "。"


def check_templates_dir(templates_dir: Path | None) -> None:
    """Refuse a ``docgen.templates_dir`` that is not a folder (it would silently do nothing)."""
    if templates_dir is not None and not templates_dir.is_dir():
        problem = "is not a folder" if templates_dir.exists() else "no such folder"
        raise TemplateError(f"docgen.templates_dir: {templates_dir}: {problem}")


def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """Built-in templates, each overridden by a same-named file in ``templates_dir``."""
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(BUILTIN_TEMPLATES)]
    if templates_dir is not None:
        check_templates_dir(templates_dir)
        loaders.insert(0, jinja2.FileSystemLoader(templates_dir))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             autoescape=False)
    env.filters["cn_date"] = cn_date
    env.filters["sentence"] = sentence
    return env


def render_body(env: jinja2.Environment, kind: str, context: Mapping[str, Any]) -> str:
    """The markup text of one document from its template."""
    name = TEMPLATE_NAMES[kind]
    try:
        template = env.get_template(name)
    except jinja2.TemplateError as error:  # not found, or a syntax error
        where = getattr(error, "filename", None) or name
        raise TemplateError(_located(where, getattr(error, "lineno", None), error)) from error
    try:
        return template.render(**context)
    except Exception as error:  # jinja2's own errors, or Python's: {{ 1 + "a" }}
        where = template.filename or name
        line = getattr(error, "lineno", None) or next(
            (lineno for frame, lineno in traceback.walk_tb(error.__traceback__)
             if frame.f_code.co_filename == where), None)
        raise TemplateError(_located(where, line, error)) from error


def _located(where: str, line: int | None, error: Exception) -> str:
    message = error.message if isinstance(error, jinja2.TemplateError) else None
    text = message or f"{type(error).__name__}: {error}"
    return f"{where}{f':{line}' if line else ''}: {text}"


def build_notice(data: Notice, env: jinja2.Environment | None = None,
                 faces: Faces = DEFAULT_FACES,
                 placement: Placement | None = Placement.SAME_PAGE) -> OfficialDocument:
    """The notice; ``placement`` None leaves the 版记 out (to measure where the body ends)."""
    env = env or environment()
    document = _headed(data, faces)
    if data.recipients:
        document.recipients(data.recipients)
    body = render_body(env, "notice", data.model_dump())
    document.blocks(markup.parse(body))
    document.attachments_note(data.attachments)
    _closing(document, data.signature or data.issuer, cn_date(data.date),
             data.note)
    if data.enclosed:
        document.enclosed(data.enclosed.title, markup.parse(data.enclosed.body))
    numbered = len(data.attachments) > 1
    for index, part in enumerate(data.appendix, start=1):
        document.appendix(index if numbered else None, part.title, markup.parse(part.body))
    if placement is not None:
        document.imprint(data.cc, data.printed_by or data.issuer,
                         cn_date(data.printed_on or data.date), placement)
    return document


def build_summary(data: Summary, intake_rows: Sequence[Mapping[str, Any]] = (),
                  env: jinja2.Environment | None = None, faces: Faces = DEFAULT_FACES,
                  placement: Placement | None = Placement.SAME_PAGE) -> OfficialDocument:
    """The summary; ``intake_rows`` are the ``units`` of ``report --json`` (plain data), which
    its statistics table shows when ``data.intake`` asks for it (columns: statistics.py)."""
    env = env or environment()
    document = _headed(data, faces)
    document.recipients(data.recipients)
    context = data.model_dump() | {"sections": data.sections, "intake_rows": list(intake_rows),
                                   "statistics": statistics(intake_rows)}
    document.blocks(markup.parse(render_body(env, "summary", context)))
    _closing(document, data.signature or data.issuer, cn_date(data.date), None)
    if placement is not None:
        document.imprint([], data.issuer, cn_date(data.date), placement)
    return document


def _headed(data: Notice | Summary, faces: Faces) -> OfficialDocument:
    """A new document with the issuer's head (版头) and the title, a blank line below it."""
    document = OfficialDocument(faces)
    document.issuer_head(data.issuer_mark, data.number, data.signer)
    document.title(data.title)
    document.blank()
    return document


def _closing(document: OfficialDocument, signature: str, date_text: str,
             note: str | None) -> None:
    document.signature(signature, date_text)
    if note:
        document.note(note)


def letter_context(data: Letter, unit: LetterUnit) -> dict[str, Any]:
    return data.model_dump(exclude={"units"}) | {
        "unit": unit, "duties": data.duties, "term": data.term, "campaign": data.campaign_name}


def write_letter(document: OfficialDocument, data: Letter, unit: LetterUnit,
                 env: jinja2.Environment) -> None:
    """Fill an emptied document with one unit's letter (title, body, signature table)."""
    document.title(data.title)
    document.blank()
    document.blocks(markup.parse(render_body(env, "letter", letter_context(data, unit))))


def build_letter(data: Letter, unit: LetterUnit, env: jinja2.Environment | None = None,
                 faces: Faces = DEFAULT_FACES) -> OfficialDocument:
    document = OfficialDocument(faces)
    write_letter(document, data, unit, env or environment())
    return document
