"""``user add`` and ``user passwd`` refuse a password anyone could guess: under ten
characters, or one of the commonest (a list shipped as package data), saying why in Chinese."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from safetymonth.cli import main
from tests.support.mailservers import write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

ROOT = Path(__file__).resolve().parents[2]


def _user(config: Path, *args: str, stdin: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), "user", *args], input=stdin)


def _names(config: Path) -> list[str]:
    listed = _user(config, "list", "--json", stdin="")
    return [item["name"] for item in json.loads(listed.stdout)]


@pytest.mark.parametrize(("password", "why"), [
    ("x", "至少需要 10 个字符"),
    ("abc123xyz", "至少需要 10 个字符"),  # nine characters
    ("1234567890", "太常见"),
    ("QwertyUiop", "太常见"),  # the list is compared without case
    ("Password123", "太常见"),
])
def test_a_guessable_password_is_refused_with_the_reason(tmp_path: Path, password: str,
                                                          why: str) -> None:
    config = write_config(tmp_path)
    result = _user(config, "add", "clerk", "--role", "coordinator",
                   stdin=f"{password}\n{password}\n")
    assert result.exit_code == 1
    assert why in result.stderr and "密码" in result.stderr
    assert "clerk" not in _names(config)


def test_a_good_password_is_taken_and_passwd_checks_the_same(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert _user(config, "add", "clerk", "--role", "coordinator",
                 stdin="青山绿水-2027-演练\n").exit_code == 0
    assert _names(config) == ["clerk"]
    refused = _user(config, "passwd", "clerk", stdin="short\n")
    assert refused.exit_code == 1 and "至少需要 10 个字符" in refused.stderr
    assert _user(config, "passwd", "clerk", stdin="another-long-one-42\n").exit_code == 0


def test_the_list_ships_with_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = project["tool"]["setuptools"]["package-data"]["safetymonth"]
    assert "common-passwords.txt" in data
    listed = (ROOT / "safetymonth" / "common-passwords.txt").read_text(encoding="utf-8")
    assert "1234567890" in listed.splitlines()
