"""``safetymonth export DIR``: the files units sent, out of the store, for a clerk to open,
forward or archive.

``DIR/<unit name>/`` holds each file under its original name, byte-identical, made safe for
Windows (:mod:`safetymonth.filenames`); a zip member is a file of its own (only its last path
component names it). A file a unit sent more than once is written once (the manifest lists
every copy, pointing at it). ``DIR/清单.xlsx`` lists one row per file. Writing never leaves DIR and
never follows a symlink: DIR and each unit folder are opened with ``O_NOFOLLOW`` and every
file is created relative to its folder's descriptor with ``O_EXCL | O_NOFOLLOW``, so a link
planted anywhere is refused, not written through.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from safetymonth.config import Config
from safetymonth.decisions import find_unit
from safetymonth.filenames import safe_file_name, safe_stem, unique
from safetymonth.spreadsheet import write_xlsx
from safetymonth.storage.credit import FileView
from safetymonth.storage.repository import Repository
from safetymonth.validator.archive import member_at
from safetymonth.zone import local_datetime

MANIFEST = "清单.xlsx"
UNCREDITED = "未计入单位"
COPY_CHUNK = 1024 * 1024
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
MANIFEST_HEADERS = ["单位", "发件人", "收到时间", "原文件名", "导出为", "类型", "检测结论",
                    "不合格原因", "决定", "理由", "附件 SHA-256"]
KIND_NAMES = {"photo": "照片", "video": "视频", "document": "文档", "archive": "压缩包",
              "other": "其他"}
DECISION_NAMES = {"accept": "认定合格", "reject": "认定不合格"}


class ExportError(Exception):
    """DIR cannot be written as asked (a symlink, not a folder, not writable)."""


@dataclass(frozen=True)
class Exported:
    files: int
    skipped: int
    manifest: Path


def export_files(config: Config, store: Repository, folder: Path, unit: str | None = None,
           accepted_only: bool = False) -> Exported:
    """Write the files (of ``unit``, or of everyone; with ``accepted_only``, only those
    accepted after decisions) and the manifest into ``folder``."""
    key = find_unit(config, unit).key if unit else None
    names = {item.key: item.name for item in config.units}
    views = [view for view in store.file_views(key) if view.ok or not accepted_only]
    rows, written, skipped = [], 0, 0
    with _folder(folder) as root:
        folders: dict[str, tuple[int, set[str], str]] = {}
        folder_names: set[str] = {MANIFEST.casefold()}
        copies: dict[tuple[str, str, int | None], str] = {}  # (unit, content) -> where
        try:
            for view in views:
                unit_name = names.get(view.unit or "", UNCREDITED)
                if unit_name not in folders:
                    folders[unit_name] = _unit_folder(root, unit_name, folder_names)
                descriptor, taken, folder_name = folders[unit_name]
                copy = (unit_name, *same_content(view))
                if copy in copies:  # the same file sent again: once is enough
                    rows.append(_manifest_row(view, unit_name, copies[copy], config))
                    continue
                stem, suffix = safe_file_name(view.name.rpartition("!")[2] or view.name,
                                              f"文件{view.id}")
                exported = unique(stem, suffix, taken)
                if _write(store, view, descriptor, exported, config):
                    written += 1
                    relative = f"{folder_name}/{exported}"
                else:
                    skipped += 1
                    relative = "（未导出：压缩包中不安全的成员）"
                copies[copy] = relative
                rows.append(_manifest_row(view, unit_name, relative, config))
        finally:
            for descriptor, _, _ in folders.values():
                os.close(descriptor)
        with _created(root, MANIFEST) as out:
            write_xlsx(out, "清单", MANIFEST_HEADERS, rows)
    return Exported(written, skipped, folder / MANIFEST)


def same_content(view: FileView) -> tuple[str, int | None]:
    """What tells a file's content apart, as the tally counts it (identical content once):
    its attachment's SHA-256 and, for a zip member, its place in the zip (two members may
    share a name, never a place)."""
    return view.sha256, view.member


@contextmanager
def _folder(folder: Path) -> Iterator[int]:
    """DIR opened as a descriptor (created if missing); refused if it is a symlink or holds
    anything already (an export never mixes with, or overwrites, other files)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(folder, DIRECTORY_FLAGS)
    except OSError as error:
        raise ExportError(f"{folder}: cannot be used as the export folder "
                          f"({error.strerror}; a symbolic link is refused)") from None
    if os.listdir(descriptor):
        os.close(descriptor)
        raise ExportError(f"{folder} is not empty; export into a new or empty folder")
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def _unit_folder(root: int, unit_name: str, taken: set[str]) -> tuple[int, set[str], str]:
    """A unit's new folder under DIR (never through a symlink): its descriptor, the names
    taken in it, and its name (told apart from the other folders' where names clash)."""
    name = unique(safe_stem(unit_name, UNCREDITED), "", taken)
    try:
        os.mkdir(name, 0o755, dir_fd=root)
        descriptor = os.open(name, DIRECTORY_FLAGS, dir_fd=root)
    except OSError as error:
        raise ExportError(f"{name}: cannot be used as a unit folder ({error.strerror}; "
                          f"a symbolic link is refused)") from None
    return descriptor, set(), name


@contextmanager
def _created(folder: int, name: str) -> Iterator[BinaryIO]:
    """A new file ``name`` in ``folder`` (never an existing one, never through a link)."""
    try:
        descriptor = os.open(name, FILE_FLAGS, 0o644, dir_fd=folder)
    except FileExistsError:  # two units whose names clean up alike share no folder
        raise ExportError(f"{name} exists already in the export folder") from None
    with os.fdopen(descriptor, "wb") as out:
        yield out


def _write(store: Repository, view: FileView, folder: int, name: str,
           config: Config) -> bool:
    """Copy the file (or unpack the zip member) byte for byte; False for a member the
    validator refused as unsafe (a bomb, a path out of the archive), which is never read."""
    source = store.path(view.stored_name)
    if view.name == view.attachment_name:
        with source.open("rb") as stream, _created(folder, name) as out:
            shutil.copyfileobj(stream, out, COPY_CHUNK)
        return True
    if view.kind == "archive":
        return False
    with zipfile.ZipFile(source) as archive:  # by position: two members may share a name
        info = None if view.member is None else member_at(archive, view.member)
        if info is None or info.file_size > config.policy.archive.max_total_size:
            return False
        with archive.open(info) as stream, _created(folder, name) as out:
            shutil.copyfileobj(stream, out, COPY_CHUNK)
    return True


def _manifest_row(view: FileView, unit_name: str, exported: str,
                  config: Config) -> list[object]:
    reasons = "；".join(reason.get("message", "") for reason in view.verdict.get("reasons", []))
    sender = "（上传链接）" if view.source == "upload" else view.sender or "（手工添加）"
    return [unit_name, sender,
            local_datetime(view.received, config.campaign.timezone), view.name, exported,
            KIND_NAMES.get(view.kind, view.kind), "合格" if view.verdict_ok else "不合格",
            reasons, DECISION_NAMES.get(view.decision or "", ""), view.reason or "",
            view.sha256]
