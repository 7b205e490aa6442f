"""A login with an unknown name is verified against a dummy argon2 hash, so that it costs
what a wrong password does. That hash is fixed, not made when the module is imported: the
console's start, every ``user`` command and every process importing the console used to pay
one argon2 hash (a third of a second of CPU) for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import argon2
import pytest
from click.testing import CliRunner

from safetymonth.cli import main
from safetymonth.web.users import password_hash_of
from tests.support.mailservers import open_store, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

# Counts every argon2 hash made (the one primitive both PasswordHasher.hash and the low-level
# API end in), then loads the whole CLI and the console's app and runs a command.
COUNTING = """
import sys
import argon2.low_level as low
made = []
real = low.hash_secret
def counting(*args, **kwargs):
    made.append(1)
    return real(*args, **kwargs)
low.hash_secret = counting
import argon2._password_hasher as hasher
hasher.hash_secret = counting
from safetymonth.cli import main
import safetymonth.web.app, safetymonth.web.users
try:
    main(["--config", sys.argv[1], "report", "--json"])
except SystemExit:
    pass
print("hashes made:", len(made), file=sys.stderr)
"""


def test_a_command_makes_no_password_hash(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = subprocess.run([sys.executable, "-c", COUNTING, str(config)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert "hashes made: 0" in result.stderr, result.stderr


def test_an_unknown_name_costs_what_a_user_does(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    added = CliRunner().invoke(main, ["--config", str(config), "user", "add", "clerk",
                                      "--role", "coordinator"], input="青山绿水-2027-演练\n")
    assert added.exit_code == 0, added.output
    with open_store(tmp_path) as repository:
        user, real = password_hash_of(repository, "clerk")
        nobody, dummy = password_hash_of(repository, "no-such-clerk")
    assert user is not None and nobody is None
    assert argon2.extract_parameters(dummy) == argon2.extract_parameters(real)
    assert argon2.PasswordHasher().verify(real, "青山绿水-2027-演练")
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        argon2.PasswordHasher().verify(dummy, "青山绿水-2027-演练")
