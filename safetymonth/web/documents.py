"""The documents page: forms for the notice, the letters and the summary that read and write
the same YAML data files ``safetymonth generate`` reads, kept under ``storage.dir/documents/``
(``generate notice var/storage/documents/notice.yaml -o …`` gives the same file). A form
starts from the last data saved, else from the shipped example.

Simple text keys are fields; lists and mappings (``units``, ``duties``, ``sections`` …) are
edited as YAML. The data is checked by docgen's own models before it replaces the file."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from safetymonth import docgen
from safetymonth.config import Config
from safetymonth.docgen.batch import letter_filenames

KINDS = {"notice": ("通知", "notice-dehua-2024.yaml"),
         "letter": ("安全管理责任书", "letters-2024.yaml"),
         "summary": ("活动情况总结", "summary-2024.yaml")}
# Shipped in the package (the wheel), so an installed console starts from them too;
# the top-level examples/ of a checkout is a link to this folder.
EXAMPLES = Path(docgen.__file__).parent / "examples"
PREVIEW_DPI = "60"


@dataclass(frozen=True)
class FormField:
    key: str
    value: str
    as_yaml: bool  # a list or mapping, edited as YAML
    multiline: bool


def folder(config: Config) -> Path:
    path = config.storage_dir / "documents"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def data_path(config: Config, kind: str) -> Path:
    return folder(config) / f"{kind}.yaml"


def output(config: Config, kind: str) -> Path:
    """Where the .docx goes: a file (notice, summary) or a folder (letters, one per unit)."""
    out = folder(config) / "out"
    out.mkdir(mode=0o700, exist_ok=True)
    return out / (kind if kind == "letter" else f"{kind}.docx")


def current_data(config: Config, kind: str) -> dict[str, Any]:
    """The last data saved for ``kind``, else the example."""
    for path in (data_path(config, kind), EXAMPLES / KINDS[kind][1]):
        if path.is_file():
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                return loaded
    return {"kind": kind}


def form_fields(data: dict[str, Any]) -> list[FormField]:
    fields = []
    for key, value in data.items():
        if key == "kind":
            continue
        if isinstance(value, dt.date):
            value = value.isoformat()
        if isinstance(value, str | int | float) or value is None:
            text = "" if value is None else str(value)
            fields.append(FormField(key, text, False, "\n" in text or len(text) > 80))
        else:
            text = yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=1000)
            fields.append(FormField(key, text, True, True))
    return fields


def data_from_form(kind: str, form: dict[str, str]) -> dict[str, Any]:
    """The YAML data back from a posted form (``f:KEY`` text, ``y:KEY`` YAML)."""
    data: dict[str, Any] = {"kind": kind}
    for name, value in form.items():
        prefix, _, key = name.partition(":")
        value = value.replace("\r\n", "\n")
        if prefix == "f" and key and value.strip():
            data[key] = value
        elif prefix == "y" and key and value.strip():
            try:
                data[key] = yaml.safe_load(value)
            except yaml.YAMLError as error:
                raise docgen.DataError(f"{key}: not valid YAML: {error}") from None
    return data


def save(config: Config, kind: str, data: dict[str, Any]) -> Path:
    """Check ``data`` as docgen reads it, then replace the data file (0600, atomically)."""
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    docgen.models.parse(yaml.safe_load(text), kind, KINDS[kind][0])
    target = data_path(config, kind)
    temp = target.with_suffix(".tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temp, target)
    return target


def generate(config: Config, kind: str, intake_rows: list[dict[str, Any]]) -> list[Path]:
    """The .docx file(s) from the saved data, as ``generate`` writes them."""
    data = docgen.load(data_path(config, kind), kind)
    templates = config.docgen.templates_dir
    rows = intake_rows if getattr(data, "intake", False) else []
    return docgen.generate(data, output(config, kind), templates and config.resolve(templates),
                           intake_rows=rows, jobs=1)


def docx_files(config: Config, kind: str) -> list[Path]:
    """The .docx files generated from the saved data (letters in the order of the units)."""
    out = output(config, kind)
    if kind != "letter":
        return [out] if out.is_file() else []
    if not data_path(config, kind).is_file():
        return []
    data = docgen.load(data_path(config, kind), kind)
    assert isinstance(data, docgen.Letter)
    return [path for path in (out / name for name in letter_filenames(data.units))
            if path.is_file()]


def pdf(config: Config, kind: str) -> Path:
    """The PDF (LibreOffice); the letters as one combined PDF, in the order of the units."""
    paths = docgen.to_pdf(docx_files(config, kind))
    if kind != "letter":
        return paths[0]
    combined = folder(config) / "out" / "letters.pdf"
    subprocess.run(["pdfunite", *map(str, paths), str(combined)], check=True,
                   capture_output=True, timeout=120)
    return combined


def preview(config: Config, kind: str) -> Path:
    """Page 1 of the PDF as PNG (poppler's pdftoppm)."""
    source = pdf(config, kind)
    target = folder(config) / "out" / f"{kind}-page1"
    subprocess.run(["pdftoppm", "-png", "-f", "1", "-l", "1", "-r", PREVIEW_DPI, "-singlefile",
                    str(source), str(target)], check=True, capture_output=True, timeout=120)
    return target.with_suffix(".png")
