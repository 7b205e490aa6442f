"""The storage folder is its owner's alone: no symlink, no other owner, no group or other write;
everything the store creates is 0700 (folders) or 0600 (files), whatever the umask."""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from safetymonth.cli import main
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.storage.database import DB_NAME
from safetymonth.storage.errors import StorageFolderError
from safetymonth.storage.repository import Repository
from tests.support.mailservers import drop, write_config


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: whatever the store creates must still be private."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_new_store_is_private_whatever_the_umask(tmp_path: Path, mail_media: Media,
                                                   open_umask: None) -> None:
    config_path = write_config(tmp_path)
    drop(tmp_path / "inbox", "1.eml",
         samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<p1@dhmz>"))
    result = CliRunner().invoke(main, ["--config", str(config_path), "poll", "--once"])
    assert result.exit_code == 0, result.output
    storage = tmp_path / "storage"
    with Repository(storage):  # open: SQLite's -wal and -shm files exist
        folders = {path: mode(path) for path in [storage, *storage.rglob("*")]
                   if path.is_dir()}
        files = {path: mode(path) for path in storage.rglob("*") if path.is_file()}
    assert set(folders.values()) == {0o700}
    assert storage / DB_NAME in files and storage / f"{DB_NAME}-wal" in files
    assert len([path for path in files if "files" in path.parts]) == 3  # every attachment
    assert files == dict.fromkeys(files, 0o600)


def test_a_symlink_planted_as_files_is_refused(tmp_path: Path) -> None:
    Repository(tmp_path / "storage").close()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    files = tmp_path / "storage" / "files"
    files.rmdir()
    files.symlink_to(elsewhere)
    with pytest.raises(StorageFolderError, match="symbolic link") as refused:
        Repository(tmp_path / "storage")
    assert str(files) in str(refused.value) and "mv" in str(refused.value)
    assert list(elsewhere.iterdir()) == []  # nothing was written through it


def test_a_symlinked_two_letter_folder_and_storage_dir_itself_are_refused(tmp_path: Path
                                                                          ) -> None:
    real = tmp_path / "real"
    Repository(real).close()
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(StorageFolderError, match="symbolic link"):
        Repository(link)
    (tmp_path / "other").mkdir(mode=0o700)
    (real / "raw" / "ab").symlink_to(tmp_path / "other")
    with pytest.raises(StorageFolderError, match=r"raw/ab is a symbolic link"):
        Repository(real)


@pytest.mark.parametrize("where", ["", "tmp", "files/0f"])
def test_a_group_writable_folder_is_refused_with_the_chmod_to_run(tmp_path: Path,
                                                                   where: str) -> None:
    storage = tmp_path / "storage"
    Repository(storage).close()
    folder = storage / where
    folder.mkdir(exist_ok=True)
    folder.chmod(0o770)
    with pytest.raises(StorageFolderError, match="written by other users") as refused:
        Repository(storage)
    assert f"chmod -R go-rwx {storage}" in str(refused.value)
    folder.chmod(0o700)
    Repository(storage).close()  # fixed as the sentence says: accepted


def test_a_folder_owned_by_another_user_is_refused_without_a_chown(tmp_path: Path) -> None:
    """A folder inside the store that another user made: refused, naming the store's owner;
    never advice to chown the store to whoever ran the command (that locks the service out)."""
    if os.geteuid() != 0:
        pytest.fail("needs root to give a folder to another user (CI runs as root)")
    storage = tmp_path / "storage"
    Repository(storage).close()
    nobody = pwd.getpwnam("nobody")
    os.chown(storage / "raw", nobody.pw_uid, nobody.pw_gid)
    with pytest.raises(StorageFolderError, match="belongs to nobody") as refused:
        Repository(storage)
    assert f"owns the rest of the store {storage}" in str(refused.value)
    assert "chown" not in str(refused.value)


def test_a_store_owned_by_the_service_user_names_the_command_to_run_as_it(
        tmp_path: Path) -> None:
    """The whole store is another user's (the service's): run the command as that user."""
    if os.geteuid() != 0:
        pytest.fail("needs root to give a folder to another user (CI runs as root)")
    storage = tmp_path / "storage"
    Repository(storage).close()
    nobody = pwd.getpwnam("nobody")
    for path in (storage, *storage.iterdir()):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    with pytest.raises(StorageFolderError, match=f"{storage} belongs to nobody") as refused:
        Repository(storage)
    assert "sudo -u nobody safetymonth" in str(refused.value)
    assert "chown" not in str(refused.value)


def test_the_cli_refuses_an_unsafe_store_in_one_line(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    storage = tmp_path / "storage"
    storage.mkdir()
    storage.chmod(0o777)
    for command in (["poll", "--once"], ["report"], ["remind", "--dry-run"]):
        result = CliRunner().invoke(main, ["--config", str(config_path), *command])
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert lines[-1].startswith("safetymonth: storage.dir refused:"), result.output
        assert "Traceback" not in result.output
        assert f"chmod -R go-rwx {storage}" in lines[-1]
    assert list(storage.iterdir()) == []  # refused before anything was created
