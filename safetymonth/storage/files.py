"""The store's folder: owner-only, never a symlink, and everything in it created private.

``storage.dir`` holds every unit's mail and files, so it and every folder inside it must be
the service user's alone: a folder another user can write lets them swap a stored file, and a
symlink lets a store write land outside ``storage.dir``. :func:`check_folder` refuses such a
store with a sentence that says the command that fixes it; :func:`make_private_dir` and
:data:`FILE_MODE` give new folders 0700 and new files 0600 whatever the process's umask.
"""

from __future__ import annotations

import os
import pwd
import shlex
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


class StorageFolderError(Exception):
    """``storage.dir`` cannot be used safely; the message says what to run to fix it."""


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents inside the store) mode 0700, umask or not. An
    existing folder is left as it is (:func:`check_folder` judges it)."""
    missing = []
    while not path.exists() and not path.is_symlink():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(folder, DIR_MODE)  # mkdir's mode is narrowed by the umask, never widened


def create_private_file(path: Path) -> None:
    """Create an empty ``path`` mode 0600 unless it exists (SQLite then gives its -wal and
    -shm files the same mode)."""
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(handle, FILE_MODE)
    finally:
        os.close(handle)


def prepare_folder(root: Path) -> None:
    """Create ``root`` private if it does not exist, then check it (:func:`check_folder`)."""
    if not root.exists() and not root.is_symlink():
        make_private_dir(root)
    check_folder(root)


def check_folder(root: Path) -> None:
    """Refuse ``root`` when it or a folder inside it (the store's folders and their
    two-letter folders) is a symlink, belongs to another user or is writable by group or
    others. Files are not listed: there may be a million; every folder they live in is."""
    _check_entry(root, root)
    for child in _entries(root):
        _check_entry(child, root)
        if child.is_dir(follow_symlinks=False):
            for grandchild in _entries(Path(child.path)):
                if grandchild.is_symlink() or grandchild.is_dir(follow_symlinks=False):
                    _check_entry(grandchild, root)


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as entries:
        return list(entries)


def _check_entry(entry: Path | os.DirEntry[str], root: Path) -> None:
    path = Path(entry.path) if isinstance(entry, os.DirEntry) else entry
    info = entry.stat(follow_symlinks=False) if isinstance(entry, os.DirEntry) \
        else path.lstat()
    where = shlex.quote(str(root))
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(path)
        raise StorageFolderError(
            f"{path} is a symbolic link (to {target}); the store never follows one: move the "
            f"real folder into its place (rm {shlex.quote(str(path))} && mv "
            f"{shlex.quote(target)} {shlex.quote(str(path))}), or set storage.dir to a real "
            f"folder")
    if stat.S_ISDIR(info.st_mode) or path == root:
        if info.st_uid != os.geteuid():
            me = _user_name(os.geteuid())
            raise StorageFolderError(
                f"{path} belongs to {_user_name(info.st_uid)}, but safetymonth runs as {me}: "
                f"run chown -R {shlex.quote(me)} {where} (or run safetymonth as the owner)")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise StorageFolderError(
                f"{path} can be written by other users (mode "
                f"{stat.S_IMODE(info.st_mode):04o}); the store must be its owner's alone: "
                f"run chmod -R go-rwx {where}")


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
