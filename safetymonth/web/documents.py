"""The documents page's files: the YAML data files ``safetymonth generate`` reads, kept under
``storage.dir/documents/`` (``generate notice var/storage/documents/notice.yaml -o …`` gives
the same file), the .docx made from them under the names a clerk files them by, the letters
as one .zip, and the PDF. A form starts from the last data saved, else from the shipped
example; :mod:`.document_forms` maps it to the form, and docgen's own models check it before
it replaces the file."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from safetymonth import docgen
from safetymonth.config import Config
from safetymonth.docgen.batch import letter_filenames
from safetymonth.document_options import document_options
from safetymonth.filenames import safe_stem
from safetymonth.roster import letter_units

KINDS = {"notice": ("通知", "notice-dehua-2024.yaml"),
         "letter": ("安全管理责任书", "letters-2024.yaml"),
         "summary": ("活动情况总结", "summary-2024.yaml")}
# Shipped in the package (the wheel), so an installed console starts from them too;
# the top-level examples/ of a checkout is a link to this folder.
EXAMPLES = Path(docgen.__file__).parent / "examples"
PREVIEW_DPI = "60"


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
                           templates and config.resolve(templates), intake_rows=rows, jobs=1,
                           options=document_options(config))
    target = data_path(config, kind)
    temp = target.with_suffix(".tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temp, target)
    return made


def roster(config: Config) -> list[dict[str, str]]:
    """The units the console knows, for the letter's ticks: name, and 类别 and 负责人 where
    the unit registry has them."""
    return [{"name": unit.name,
             "category": str(getattr(unit, "category", None) or ""),
             "head": str(getattr(unit, "leader", None) or getattr(unit, "head", None) or "")}
            for unit in config.units]


def saved_or_none(config: Config, kind: str) -> docgen.Data | None:
    """The saved data, checked; ``None`` before the first save (or if it no longer reads)."""
    path = data_path(config, kind)
    try:
        return docgen.load(path, kind) if path.is_file() else None
    except docgen.DataError:
        return None


def filed_names(data: docgen.Data) -> list[str]:
    """The names a clerk files the documents by: ``威民发〔2016〕64号 关于….docx`` (发文字号,
    a space, the title), and per unit ``安全管理责任书（德化县社会福利中心）.docx``. Characters
    no file system takes are replaced; two units whose names read alike once replaced get
    （2）, （3）…"""
    if not isinstance(data, docgen.Letter):
        stem = f"{data.number} {data.title}" if data.number else data.title
        return [safe_stem(stem, KINDS[data.kind][0]) + ".docx"]
    names: list[str] = []
    taken: set[str] = set()
    for unit in data.units:
        stem = safe_stem(f"{data.campaign_name}责任书（{unit.name}）", "责任书")
        name, copy = stem, 1
        while name.casefold() in taken:
            copy += 1
            name = f"{stem}（{copy}）"
        taken.add(name.casefold())
        names.append(name + ".docx")
    return names


def bundle_stem(data: docgen.Data) -> str:
    """The one .zip and one PDF of every letter (or the PDF of a notice or summary)."""
    if isinstance(data, docgen.Letter):
        return safe_stem(f"{data.campaign_name}责任书（共{len(data.units)}份）", "责任书")
    return filed_names(data)[0].removesuffix(".docx")


def downloads(config: Config, kind: str) -> list[tuple[Path, str]]:
    """Each generated .docx with the name it is downloaded as."""
    data = saved_or_none(config, kind)
    if data is None:
        return []
    out = output(config, kind)
    paths = [out / name for name in letter_filenames(data.units)] \
        if isinstance(data, docgen.Letter) else [out]
    return [(path, name) for path, name in zip(paths, filed_names(data), strict=True)
            if path.is_file()]


def letters_zip(config: Config) -> Path:
    """Every letter in one .zip, under the names a clerk files them by; made once per content
    (see :func:`_cached`)."""
    return _cached(config, "letter", "zip", lambda folder: _make_zip(config, folder))


def _make_zip(config: Config, folder: Path) -> Path:
    target = folder / "letters.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in downloads(config, "letter"):
            archive.write(path, name)
    return target


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
    # For printing both sides, as ``generate letter --combined``: each letter on a new sheet.
    return docgen.unite(paths, folder / "letters.pdf")


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
