"""storage.password_env: the database password comes from the environment only; unset, none
is sent. Against the test PostgreSQL's role that needs its password (scram-sha-256)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from safetymonth.cli import main
from safetymonth.config import ConfigError, load_config
from safetymonth.storage.repository import open_repository
from tests.support.mailservers import write_config
from tests.support.postgres import PASSWORD_ROLE, ROLE_PASSWORD, Postgres

ENV = "SAFETYMONTH_TEST_DB_PASSWORD"


def test_the_password_comes_from_the_environment_only(
        tmp_path: Path, postgres_server: Postgres, monkeypatch: pytest.MonkeyPatch) -> None:
    name = postgres_server.create_database(owner=PASSWORD_ROLE)
    url = postgres_server.url(name, user=PASSWORD_ROLE)
    config_path = write_config(tmp_path, url, storage={"dir": "storage", "database": url,
                                                       "password_env": ENV})
    monkeypatch.delenv(ENV, raising=False)
    result = CliRunner().invoke(main, ["--config", str(config_path), "report"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith(f"safetymonth: database {url}")
    assert "password" in result.output  # the server asked for one, none was sent
    monkeypatch.setenv(ENV, ROLE_PASSWORD)
    with open_repository(load_config(config_path)) as store:
        assert store.messages() == []
    assert ROLE_PASSWORD not in config_path.read_text()
    postgres_server.drop_database(name)


def test_a_password_in_the_url_is_refused(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, storage={
        "dir": "storage", "database": "postgresql+psycopg://u:secret@127.0.0.1/db"})
    with pytest.raises(ConfigError, match=r"storage\.database: .*password_env"):
        load_config(config_path)
