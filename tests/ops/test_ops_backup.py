"""``safetymonth backup DEST`` on a store filled by real intake, on both engines: the copy,
pointed at by a config of its own, reports the same and holds the same files."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from safetymonth.cli import main
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.storage.backup import DUMP_NAME
from tests.support.mailservers import drop, write_config


def _run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config_path), *args])


def _hashes(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for top in ("raw", "files") for path in (root / top).rglob("*") if path.is_file()}


def _restored_database(engine: str | None, dest: Path, request: pytest.FixtureRequest) -> \
        str | None:
    """The copy's storage.database: None (its SQLite file) or a new PostgreSQL database the
    dump was restored into with pg_restore."""
    if engine is None:
        return None
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    request.addfinalizer(lambda: server.drop_database(name))
    subprocess.run(["pg_restore", "--no-owner", "--host=127.0.0.1", f"--port={server.port}",
                    "--username=postgres", f"--dbname={name}", str(dest / DUMP_NAME)],
                   check=True, capture_output=True)
    return str(server.url(name))


def test_the_backup_opens_as_a_store_with_the_same_report_and_files(
        tmp_path: Path, mail_media: Media, engine: str | None,
        request: pytest.FixtureRequest) -> None:
    original = tmp_path / "original"
    original.mkdir()
    config_path = write_config(original, database=engine)
    drop(original / "inbox", "1.eml",
         samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<b1@dhmz>"))
    drop(original / "inbox", "2.eml",
         samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media))
    drop(original / "inbox", "3.eml", samplemail.foxmail_gbk("wang@etfly.example.cn", mail_media))
    assert _run(config_path, "poll", "--once").exit_code == 0
    before = _run(config_path, "report", "--json")
    assert before.exit_code == 0, before.output
    links = _run(config_path, "links", "--json")  # issues each unit its link
    assert links.exit_code == 0 and len(json.loads(links.stdout)) >= 2, links.output

    dest = tmp_path / "backup"
    result = _run(config_path, "backup", str(dest))
    assert result.exit_code == 0, result.output
    store = original / "storage"
    assert (store / "tmp").is_dir() and not (dest / "tmp").exists()
    assert _hashes(dest) == _hashes(store) and len(_hashes(store)) >= 9  # 3 raw, 6+ files
    for path in [dest, *dest.rglob("*")]:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path

    copy = tmp_path / "copy"
    copy.mkdir()
    copy_config = write_config(copy, database=_restored_database(engine, dest, request),
                               storage={"dir": str(dest)})
    after = _run(copy_config, "report", "--json")
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout) == json.loads(before.stdout)
    # The units' links, handed out before, still open the restored store's pages.
    assert json.loads(_run(copy_config, "links", "--json").stdout) == json.loads(links.stdout)
    assert _run(copy_config, "verify").exit_code == 0


def test_a_folder_that_is_not_empty_is_refused(tmp_path: Path, engine: str | None) -> None:
    config_path = write_config(tmp_path, database=engine)
    assert _run(config_path, "poll", "--once").exit_code == 0
    dest = tmp_path / "used"
    dest.mkdir()
    (dest / "keep.txt").write_text("x")
    result = _run(config_path, "backup", str(dest))
    assert result.exit_code == 1
    assert "not empty" in result.stderr and result.stderr.count("\n") == 1
    assert [path.name for path in dest.iterdir()] == ["keep.txt"]


def test_without_pg_dump_it_says_the_command_to_run(tmp_path: Path, postgres_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    config_path = write_config(tmp_path, database=postgres_url)
    assert _run(config_path, "poll", "--once").exit_code == 0
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("SAFETYMONTH_DB_PASSWORD", "s3cret-not-shown")
    result = _run(config_path, "backup", str(tmp_path / "dest"))
    assert result.exit_code == 1
    assert "pg_dump is not on PATH" in result.stdout and "--file=" in result.stdout
    assert "s3cret-not-shown" not in result.output
