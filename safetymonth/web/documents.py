"""The documents page: forms for the notice, the letters and the summary that read and write
the same YAML data files ``safetymonth generate`` reads, kept under ``storage.dir/documents/``
(``generate notice var/storage/documents/notice.yaml -o …`` gives the same file). A form
starts from the last data saved, else from the shipped example.

Simple text keys are fields; lists and mappings (``units``, ``duties``, ``sections`` …) are
edited as YAML. The data is checked by docgen's own models before it replaces the file."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from safetymonth import docgen
from safetymonth.config import Config
from safetymonth.docgen.batch import letter_filenames
from safetymonth.roster import letter_units

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


def publish(config: Config, kind: str, data: dict[str, Any],
            intake_rows: list[dict[str, Any]]) -> list[Path]:
    """Check ``data`` as docgen reads it, generate the .docx from it, and only then replace
    the data file (0600, atomically): data that is refused, or that cannot be generated,
    leaves the saved file as it was."""
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    checked = docgen.models.parse(yaml.safe_load(text), kind, KINDS[kind][0],
                                  letter_units(config.units))
    templates = config.docgen.templates_dir
    rows = intake_rows if getattr(checked, "intake", False) else []
    made = docgen.generate(checked, output(config, kind),
                           templates and config.resolve(templates), intake_rows=rows, jobs=1)
    target = data_path(config, kind)
    temp = target.with_suffix(".tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temp, target)
    return made


def docx_files(config: Config, kind: str) -> list[Path]:
    """The .docx files generated from the saved data (letters in the order of the units)."""
    out = output(config, kind)
    if kind != "letter":
        return [out] if out.is_file() else []
    if not data_path(config, kind).is_file():
        return []
    data = docgen.load(data_path(config, kind), kind, letter_units(config.units))
    assert isinstance(data, docgen.Letter)
    return [path for path in (out / name for name in letter_filenames(data.units))
            if path.is_file()]


# --- PDF and preview, made once per content -------------------------------------------------


def pdf(config: Config, kind: str) -> Path:
    """The PDF (LibreOffice); the letters as one combined PDF, in the order of the units.
    Made once per content of the .docx files and kept (see :func:`_cached`)."""
    return _cached(config, kind, "pdf", lambda folder: _make_pdf(config, kind, folder))


def preview(config: Config, kind: str) -> Path:
    """Page 1 of the PDF as PNG (poppler's pdftoppm), made once per content."""
    source = pdf(config, kind)
    return _cached(config, kind, "png", lambda folder: _make_preview(source, folder))


def _make_pdf(config: Config, kind: str, folder: Path) -> Path:
    paths = docgen.to_pdf(docx_files(config, kind), folder)
    if kind != "letter":
        return paths[0]
    combined = folder / "letters.pdf"
    subprocess.run(["pdfunite", *map(str, paths), str(combined)], check=True,
                   capture_output=True, timeout=120)
    return combined


def _make_preview(source: Path, folder: Path) -> Path:
    target = folder / "page1"
    subprocess.run(["pdftoppm", "-png", "-f", "1", "-l", "1", "-r", PREVIEW_DPI, "-singlefile",
                    str(source), str(target)], check=True, capture_output=True, timeout=120)
    return target.with_suffix(".png")


def content_key(config: Config, kind: str) -> str:
    """The SHA-256 of the generated .docx files, in order: what a PDF is made from."""
    digest = hashlib.sha256(kind.encode())
    for path in docx_files(config, kind):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _cached(config: Config, kind: str, suffix: str, make: Callable[[Path], Path]) -> Path:
    """``cache/<kind>-<content key>.<suffix>``, made by ``make`` (into a private temporary
    folder, then renamed into place) unless it exists. A lock file (``flock``: threads and
    the replicas on one storage.dir alike) lets one request convert while the others wait
    and then serve its file; LibreOffice's 2.5 s are paid once per content, not per GET."""
    cache = folder(config) / "out" / "cache"
    cache.mkdir(mode=0o700, exist_ok=True)
    target = cache / f"{kind}-{content_key(config, kind)}.{suffix}"
    if target.is_file():
        return target
    with (cache / f"{kind}.{suffix}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            return target
        with tempfile.TemporaryDirectory(prefix=f"{kind}-", dir=cache) as work:
            os.replace(make(Path(work)), target)
        for stale in cache.glob(f"{kind}-*.{suffix}"):
            if stale != target:
                stale.unlink(missing_ok=True)
    return target
