"""``safetymonth backup DEST``: a consistent copy of a store while ``poll`` runs.

DEST becomes a ``storage.dir`` of its own (owner-only: folders 0700, files 0600). The database
is copied first, then the files: intake renames a file into place before it commits the record
that names it, and never deletes one, so every file the copied database names is already there
when the files are copied.

SQLite: SQLite's online backup API copies the database as one snapshot, without stopping a
writer (WAL mode). PostgreSQL: ``pg_dump`` (custom format, ``DEST/database.dump``) when it is on
PATH, the password given in ``PGPASSWORD`` only, never on a command line or in a log; without
it the result says the command to run. The files under ``raw/`` and ``files/``, and the upload
links' key, are copied as regular files only: a symlink is never followed, and ``tmp/``
(half-written files) is skipped.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from safetymonth.storage.database import DB_NAME
from safetymonth.storage.errors import StorageError
from safetymonth.storage.files import (
    FILE_MODE,
    FILES_DIR,
    LINK_KEY,
    RAW_DIR,
    check_folder,
    create_private_file,
    make_private_dir,
)

DUMP_NAME = "database.dump"


class BackupError(StorageError):
    """The backup cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Backup:
    database: str  # what was done with the database, as a sentence
    files: int
    complete: bool  # False: the database still has to be dumped by hand


Progress = Callable[[int], AbstractContextManager[Callable[[object], None]]]


def back_up(root: Path, url: str | None, password: str | None, dest: Path,
            progress: Progress | None = None) -> Backup:
    """Copy the store at ``root`` (database ``url``, None for its SQLite file) to ``dest``,
    which must not exist or be an empty folder. ``progress(total)`` gives a callback called
    once per file copied (a progress bar)."""
    check_folder(root)
    _prepare(dest)
    if url is None:
        database, complete = _sqlite(root / DB_NAME, dest / DB_NAME), True
    else:
        database, complete = _pg_dump(url, password, dest / DUMP_NAME)
    files = _stored_files(root)
    if (root / LINK_KEY).is_file() and not (root / LINK_KEY).is_symlink():
        files.append(Path(LINK_KEY))  # without it every unit's upload link would change
    with (progress or _no_progress)(len(files)) as advance:
        for relative in files:
            _copy(root / relative, dest / relative)
            advance(relative)
    return Backup(database, len(files), complete)


@contextmanager
def _no_progress(_total: int) -> Iterator[Callable[[object], None]]:
    yield lambda _done: None


def _prepare(dest: Path) -> None:
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise BackupError(f"{dest} is not a folder: name a new folder for the backup")
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: name a new folder for the backup")
    make_private_dir(dest)
    os.chmod(dest, 0o700)


def _sqlite(source: Path, target: Path) -> str:
    if not source.is_file():
        raise BackupError(f"the database {source} is missing: nothing to back up")
    create_private_file(target)  # 0600 before SQLite writes it
    reader = sqlite3.connect(source, timeout=30)
    try:
        writer = sqlite3.connect(target)
        try:
            reader.backup(writer)  # one snapshot; writers in WAL mode go on meanwhile
        finally:
            writer.close()
    except sqlite3.Error as error:
        raise BackupError(f"the database {source} could not be copied: {error}") from None
    finally:
        reader.close()
    return f"database copied to {target} (SQLite online backup)"


def _pg_dump(url: str, password: str | None, target: Path) -> tuple[str, bool]:
    parsed = make_url(url)
    arguments = ["--format=custom", "--no-owner", f"--file={target}",
                 f"--host={parsed.host or 'localhost'}", f"--port={parsed.port or 5432}"]
    if parsed.username:
        arguments.append(f"--username={parsed.username}")
    arguments.append(parsed.database or "")
    program = shutil.which("pg_dump")
    if program is None:
        command = shlex.join(["pg_dump", *arguments])
        return (f"pg_dump is not on PATH, so the database was not dumped: install the "
                f"PostgreSQL client (Debian: postgresql-client) or run {command} (password in "
                f"PGPASSWORD) where it is installed", False)
    environment = dict(os.environ)
    if password is not None:
        environment["PGPASSWORD"] = password
    create_private_file(target)
    result = subprocess.run([program, "--no-password", *arguments], env=environment,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"pg_dump of {parsed.database} on {parsed.host}:{parsed.port} "
                          f"failed: {reason}")
    return (f"database dumped to {target} (pg_dump; restore with pg_restore --no-owner "
            f"-d NEWDB {target})", True)


def _stored_files(root: Path) -> list[Path]:
    """Every regular file under raw/ and files/, relative to ``root``, symlinks not followed."""
    found: list[Path] = []
    for top in (RAW_DIR, FILES_DIR):
        pending = [Path(top)]
        while pending:
            folder = pending.pop()
            if not (root / folder).is_dir() or (root / folder).is_symlink():
                continue
            with os.scandir(root / folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(folder / entry.name)
                    elif entry.is_file(follow_symlinks=False):
                        found.append(folder / entry.name)
    return sorted(found)


def _copy(source: Path, target: Path) -> None:
    make_private_dir(target.parent)
    handle = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(handle, "rb") as reader:
        if not stat.S_ISREG(os.fstat(reader.fileno()).st_mode):
            return
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        os.fchmod(out, FILE_MODE)
        with os.fdopen(out, "wb") as writer:
            shutil.copyfileobj(reader, writer, 1024 * 1024)
