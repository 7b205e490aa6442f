"""Faults a service meets in a month: the database lost, damaged or busy, and the outbox down.
Each ends in one line a clerk can act on, never a traceback, and loses nothing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from safetymonth.cli import main
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.storage import database
from tests.support.mailservers import drop, free_port, open_store, write_config
from tests.support.postgres import Postgres


def poll(config_path: Path, *extra: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["--config", str(config_path), "poll", "--once", *extra])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output.strip().splitlines()


def submit(tmp_path: Path, media: Media, name: str) -> None:
    drop(tmp_path / "inbox", f"{name}.eml", samplemail.complete_submission(
        "fuli@dhmz.example.cn", media, f"<{name}@dhmz>"))


def test_a_lost_database_is_refused_never_recreated_silently(
        tmp_path: Path, mail_media: Media, engine: str | None,
        request: pytest.FixtureRequest) -> None:
    config_path = write_config(tmp_path, engine)
    submit(tmp_path, mail_media, "first")
    assert poll(config_path)[0] == 0
    if engine is None:
        where = str(tmp_path / "storage" / database.DB_NAME)
        os.unlink(where)
    else:  # dropped and made again empty, as a restore gone wrong would leave it
        server: Postgres = request.getfixturevalue("postgres_server")
        where = engine
        name = make_url(engine).database
        server.drop_database(str(name))
        with server.admin() as db:
            db.execute(f"CREATE DATABASE {name}")
    submit(tmp_path, mail_media, "second")
    code, lines = poll(config_path)
    assert code == 1
    assert lines[-1].startswith(f"safetymonth: the database {where} is missing or empty, "
                                f"but {tmp_path / 'storage'} holds stored messages")
    assert "restore the database from a backup" in lines[-1] and "--new-database" in lines[-1]
    assert os.listdir(tmp_path / "inbox" / "new") == ["second.eml"]  # left for later
    assert poll(config_path, "--new-database")[0] == 0  # said explicitly: starts anew
    with open_store(tmp_path) as store:
        assert [record.message_id for record in store.messages()] == ["<second@dhmz>"]


def test_a_damaged_database_is_one_line_naming_the_file(tmp_path: Path,
                                                       mail_media: Media) -> None:
    config_path = write_config(tmp_path)
    submit(tmp_path, mail_media, "first")
    assert poll(config_path)[0] == 0
    path = tmp_path / "storage" / database.DB_NAME
    path.write_bytes(b"this is not what SQLite wrote" * 200)
    code, lines = poll(config_path)
    assert code == 1
    assert lines[-1].startswith(f"safetymonth: the database {path} is damaged (")
    assert lines[-1].endswith("restore it from a backup")


def test_a_busy_database_is_one_line_and_nothing_half_done(
        tmp_path: Path, mail_media: Media, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "BUSY_TIMEOUT", 0.5)
    config_path = write_config(tmp_path)
    assert poll(config_path)[0] == 0  # a current store
    submit(tmp_path, mail_media, "first")
    holder = sqlite3.connect(tmp_path / "storage" / database.DB_NAME, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process's long write
        code, lines = poll(config_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1
    assert lines[-1].startswith("safetymonth: the database ") and "is busy" in lines[-1]
    assert "nothing was changed, try again" in lines[-1]
    assert os.listdir(tmp_path / "inbox" / "new") == ["first.eml"]
    with open_store(tmp_path) as store:
        assert store.messages() == []
    assert poll(config_path)[0] == 0  # once the lock is gone, all is taken
    with open_store(tmp_path) as store:
        assert [record.message_id for record in store.messages()] == ["<first@dhmz>"]


def test_poll_once_exits_3_while_replies_stay_queued(tmp_path: Path, mail_media: Media,
                                                      engine: str | None) -> None:
    config_path = write_config(tmp_path, engine, mailbox={"outbox": {"smtp": {
        "host": "127.0.0.1", "port": free_port(), "security": "none", "retries": 1,
        "backoff": 0, "timeout": 2}}})
    submit(tmp_path, mail_media, "first")
    code, lines = poll(config_path)
    assert code == 3
    assert lines[-1] == ("safetymonth: 1 replies stay queued because the outbox failed "
                         "(see the lines above); the next poll sends them")
    with open_store(tmp_path) as store:
        [record] = store.messages()
        assert record.state == "processed"
        assert [reply.state for reply in store.replies()] == ["queued"]
