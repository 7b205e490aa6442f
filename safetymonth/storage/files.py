"""The store's files: content-addressed, written atomically, made durable at a barrier; and
the store's folder: owner-only, never a symlink, everything in it created private.

Every raw message and every attachment is a plain file named by its SHA-256
(``raw/ab/abcd...``, ``files/ab/abcd...``), written to ``tmp/`` and renamed, so a crash never
leaves a half file under a real name.

Durability where it matters. A killed process loses nothing that was renamed (the page cache
survives it); a power loss loses what was not fsynced, which is harmless as long as the
message is still unmarked on the server. So in *deferred* mode (:meth:`FileStore.deferred`,
the intake's) files are renamed into place without an fsync and :meth:`FileStore.start_sync`
later syncs every file written since, with its folders, in a background thread, right before
the irreversible step (the repository then makes the database durable too). A file this
process created and could not sync is removed, so no unsynced file keeps a real name; a file
merely found in place is never removed (it may belong to a message already marked) and is
synced again at a later barrier. Outside deferred mode every file is fsynced before its rename.

The folder:

``storage.dir`` holds every unit's mail and files, so it and every folder inside it must be
the service user's alone: a folder another user can write lets them swap a stored file, and a
symlink lets a store write land outside ``storage.dir``. :func:`check_folder` refuses such a
store with a sentence that says the command that fixes it; :func:`make_private_dir` and
:data:`FILE_MODE` give new folders 0700 and new files 0600 whatever the process's umask.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import pwd
import shlex
import stat
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from safetymonth.fsync import fsync_directory, fsync_files
from safetymonth.storage.errors import StorageFolderError

DIR_MODE = 0o700
FILE_MODE = 0o600
RAW_DIR = "raw"
FILES_DIR = "files"
TMP_DIR = "tmp"
LINK_KEY = "upload-links.key"  # the secret upload links derive from (uploads/links.py)
SMALL_FILE = 4 * 1024 * 1024  # put_stream keeps a file up to this size in memory


class FileStore:
    """The content-addressed files under one ``storage.dir``. Not thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        prepare_folder(root)  # owner-only and no symlink, or StorageFolderError
        for sub in (RAW_DIR, FILES_DIR, TMP_DIR):
            make_private_dir(root / sub)
        # Files to sync at the next barrier (deferred mode only, else None), each with
        # whether this process created it (renamed it into place) or merely found it there.
        self._unsynced: dict[Path, bool] | None = None
        self._temps = 0
        self._durable: set[Path] = set()  # synced by this process: no need to sync again
        self._syncer: ThreadPoolExecutor | None = None  # runs start_sync's file syncs

    def close(self) -> None:
        if self._syncer is not None:
            self._syncer.shutdown()

    def path(self, stored_name: str) -> Path:
        return self.root / stored_name

    def raw_path(self, sha256: str) -> Path:
        return self.root / RAW_DIR / sha256[:2] / sha256

    def holds_messages(self) -> bool:
        """Whether any raw message is stored."""
        with os.scandir(self.root / RAW_DIR) as entries:
            return any(entry.is_dir(follow_symlinks=False) for entry in entries)

    def has(self, stored_name: str, size: int) -> bool:
        """The file is there with the size recorded for it."""
        return has_size(self.path(stored_name), size)

    # --- writing ----------------------------------------------------------------------

    def put_bytes(self, data: bytes, kind: str = FILES_DIR) -> tuple[str, str]:
        """Store ``data`` under its hash; returns (sha256, stored name relative to root)."""
        digest = hashlib.sha256(data).hexdigest()
        relative = f"{kind}/{digest[:2]}/{digest}"
        target = self.root / relative
        if not has_size(target, len(data)):
            self._write_atomically(target, (data,))
        else:
            self._exists(target)
        return digest, relative

    def put_stream(self, chunks: Iterable[bytes], kind: str = FILES_DIR) -> tuple[str, str, int]:
        """Store a file given in pieces, never whole in memory; returns (sha256, stored name,
        size). The first ``SMALL_FILE`` bytes are gathered in memory, so a small file that is
        already stored costs no file at all; beyond that the pieces go to a temp file while
        hashed, which is renamed to its hash."""
        pieces = iter(chunks)
        head: list[bytes] = []
        size = 0
        for chunk in pieces:
            head.append(chunk)
            size += len(chunk)
            if size > SMALL_FILE:
                break
        else:
            data = b"".join(head)
            digest, relative = self.put_bytes(data, kind)
            return digest, relative, len(data)
        return self._put_large(itertools.chain(head, pieces), kind)

    def _put_large(self, chunks: Iterable[bytes], kind: str) -> tuple[str, str, int]:
        digest = hashlib.sha256()
        size = 0
        handle, temp = self._temp()
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                if self._unsynced is None:
                    out.flush()
                    os.fsync(out.fileno())
            hexdigest = digest.hexdigest()
            relative = f"{kind}/{hexdigest[:2]}/{hexdigest}"
            target = self.root / relative
            if has_size(target, size):
                Path(temp).unlink()
                self._exists(target)
                return hexdigest, relative, size
            make_private_dir(target.parent)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self._written(target)
        return hexdigest, relative, size

    def adopt(self, path: Path, sha256: str, size: int) -> str:
        """A finished file written elsewhere under ``storage.dir`` (an upload, fsynced by
        its writer), renamed into its content-addressed place rather than copied: a 1 GB
        video costs no second write. Its copy is dropped when the content is stored
        already. Returns the stored name."""
        relative = f"{FILES_DIR}/{sha256[:2]}/{sha256}"
        target = self.root / relative
        if has_size(target, size):
            path.unlink()
            self._exists(target)
            return relative
        make_private_dir(target.parent)
        os.replace(path, target)
        fsync_directory(target.parent)
        return relative

    def _write_atomically(self, target: Path, chunks: Iterable[bytes]) -> None:
        make_private_dir(target.parent)
        handle, temp = self._temp()
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                if self._unsynced is None:
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self._written(target)

    def _temp(self) -> tuple[int, str]:
        """A new file in tmp/ (this process's id and a counter: cheaper than mkstemp's random
        names; O_EXCL still refuses a name left by an earlier process with the same id)."""
        while True:
            self._temps += 1
            name = str(self.root / TMP_DIR / f"{os.getpid()}.{self._temps}")
            try:
                handle = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                                 FILE_MODE)
            except FileExistsError:
                continue
            os.fchmod(handle, FILE_MODE)  # 0600 whatever the umask
            return handle, name

    def _exists(self, target: Path) -> None:
        """``target`` was already there. A process killed before its barrier may have left
        it in the page cache only: sync it at this process's next barrier, once. It is not
        ours to remove if that sync fails: it may belong to a message already marked."""
        if self._unsynced is not None and target not in self._durable:
            self._unsynced.setdefault(target, False)

    def _written(self, target: Path) -> None:
        if self._unsynced is not None:
            self._unsynced[target] = True  # created here: made durable at the next barrier
        else:
            fsync_directory(target.parent)

    def discard(self, stored_name: str) -> None:
        """Remove a stored file whose bytes are wrong, so that it can be stored again (a
        store never overwrites a name already in place)."""
        self.path(stored_name).unlink(missing_ok=True)

    # --- durability ---------------------------------------------------------------------

    @property
    def deferring(self) -> bool:
        return self._unsynced is not None

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Deferred mode (see the module docstring) for the block; nested blocks join it."""
        if self._unsynced is not None:
            yield
            return
        self._unsynced = {}
        try:
            yield
        finally:
            self._unsynced = None

    def start_sync(self) -> Future[list[Path]]:
        """Sync every file written since the last call, in a background thread (fsync
        releases the GIL, so the disk works while intake goes on). :meth:`finish_sync` the
        result before the irreversible step."""
        pending, self._unsynced = self._unsynced, ({} if self._unsynced is not None
                                                   else None)
        if self._syncer is None:
            self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="barrier")
        pending = pending or {}
        return self._syncer.submit(_sync_files, sorted(pending),
                                   {path for path, created in pending.items() if created})

    def finish_sync(self, files: Future[list[Path]]) -> None:
        """Wait for :meth:`start_sync`'s files; raises what their sync raised."""
        self._durable.update(files.result())


def has_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except (FileNotFoundError, NotADirectoryError):  # a file where a folder belongs too
        return False


def file_sha256(path: Path) -> str | None:
    """The SHA-256 of the file at ``path``, read in chunks; None when it is missing or not a
    regular file (a symlink is never followed)."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError, OSError) as error:
        if isinstance(error, (FileNotFoundError, NotADirectoryError)) or \
                error.errno == errno.ELOOP:
            return None
        raise
    with os.fdopen(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            return None
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _sync_files(paths: list[Path], created: set[Path]) -> list[Path]:
    """fsync the files and then their directories (the renames); returns the files synced.
    On any failure the first error is raised, after removing each file that could not be
    synced if it is in ``created`` (renamed into place by this process). A file merely found
    in place is never removed: it may belong to a message already marked on the server."""
    directories: set[Path] = set()
    synced: list[Path] = []
    failed: OSError | None = None
    for path, error in fsync_files(paths):
        if error is not None:
            failed = failed or error
            if path in created:
                path.unlink(missing_ok=True)
            continue
        synced.append(path)
        directories.add(path.parent)
        directories.add(path.parent.parent)  # the two-letter folder may be new
    for _, error in fsync_files(sorted(directories)):
        failed = failed or error
    if failed is not None:
        raise failed
    return synced


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents inside the store) mode 0700, umask or not. An
    existing folder is left as it is (:func:`check_folder` judges it)."""
    missing = []
    while not path.exists() and not path.is_symlink():
        missing.append(path)
        path = path.parent
    if not path.is_dir():  # a file where a folder belongs: as mkdir would say
        raise FileExistsError(errno.EEXIST, "a file where a folder belongs", str(path))
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
            raise StorageFolderError(_not_ours(path, root, info.st_uid))
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise StorageFolderError(
                f"{path} can be written by other users (mode "
                f"{stat.S_IMODE(info.st_mode):04o}); the store must be its owner's alone: "
                f"run chmod -R go-rwx {where}")


def _not_ours(path: Path, root: Path, uid: int) -> str:
    """What to run when a folder of the store is not ours: the command again, as the user
    who owns the store. Never a chown: the store's owner is the service's user, and giving
    the store to whoever ran the command would lock the service out of it."""
    me, owner = _user_name(os.geteuid()), _user_name(uid)
    root_uid = root.lstat().st_uid
    head = f"{path} belongs to {owner}, but safetymonth runs as {me}"
    if path != root and root_uid == os.geteuid():
        return (f"{head}, who owns the rest of the store {root}: a command ran as {owner} "
                f"against it; that folder must belong to {me} like the rest")
    store_owner = _user_name(root_uid)
    again = (shlex.join(["safetymonth", *sys.argv[1:]])
             if Path(sys.argv[0]).name in ("safetymonth", "__main__.py") else "safetymonth …")
    return (f"{head}: run it as the store's owner, sudo -u {shlex.quote(store_owner)} "
            f"{again} (as root, safetymonth switches to {store_owner} by itself, with the "
            f"passwords of secrets.env beside the config file)")


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
