"""Root against the service's store: whose store it is, and the secrets file as systemd reads
it (the whole switch, as root on an installed .deb, is in tests/ops/test_install.py)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from safetymonth.service_user import read_env_file, store_owner


def test_a_store_not_made_yet_belongs_to_the_owner_of_the_folder_it_goes_in(
        tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("needs root to give a folder to another user (CI runs as root)")
    nobody = pwd.getpwnam("nobody")
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    owner = store_owner(home / "store" / "deeper")
    assert owner is not None and owner.pw_name == "nobody"
    assert store_owner(tmp_path / "elsewhere") is None  # root's: nobody to switch to


def test_the_secrets_file_reads_as_systemd_reads_an_environment_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("# the passwords\n; also a comment\n\n"
                       "SAFETYMONTH_IMAP_PASSWORD=pa=ss word\n"
                       'SAFETYMONTH_SMTP_PASSWORD="quoted value"\n'
                       "  SAFETYMONTH_DB_PASSWORD = 'x' \n"
                       "#SAFETYMONTH_OTHER=off\n", encoding="utf-8")
    assert read_env_file(secrets) == {"SAFETYMONTH_IMAP_PASSWORD": "pa=ss word",
                                      "SAFETYMONTH_SMTP_PASSWORD": "quoted value",
                                      "SAFETYMONTH_DB_PASSWORD": "x"}
