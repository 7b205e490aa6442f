"""``safetymonth check`` against a real Dovecot, a real aiosmtpd and the Maildir default."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner, Result

from safetymonth.cli import main
from tests.support.mailservers import (
    PASSWORD,
    Dovecot,
    Recorder,
    SmtpServer,
    drop,
    free_port,
    write_config,
)

IMAP_ENV, SMTP_ENV = "SAFETYMONTH_TEST_IMAP_PASSWORD", "SAFETYMONTH_TEST_SMTP_PASSWORD"


@pytest.fixture(autouse=True)
def _passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(IMAP_ENV, PASSWORD)
    monkeypatch.setenv(SMTP_ENV, "the-auth-code")


def _check(config_path: Path) -> tuple[int, dict[str, str]]:
    """The exit code and each check's line, by the check's name."""
    result: Result = CliRunner().invoke(main, ["--config", str(config_path), "check"])
    lines = {line.split(":", 1)[0].split()[-1]: line for line in result.stdout.splitlines()}
    assert list(lines) == ["config", "storage.dir", "database", "source", "outbox",
                           "LibreOffice"], result.output
    return result.exit_code, lines


def _imap_config(tmp_path: Path, server: Dovecot, user: str, **imap: object) -> Path:
    block = {"host": "127.0.0.1", "port": server.port, "security": "none", "user": user,
             "password_env": IMAP_ENV, "timeout": 5, **imap}
    config_path = write_config(tmp_path, mailbox={"source": {"imap": block}})
    _make_store(config_path)
    return config_path


def _make_store(config_path: Path) -> None:
    """A store made by a first poll of an empty Maildir (the source is put back after)."""
    drop(config_path.parent / "inbox", "x", b"")
    (config_path.parent / "inbox" / "new" / "x").unlink()
    text = config_path.read_text()
    maildir = write_config(config_path.parent)
    assert CliRunner().invoke(main, ["--config", str(maildir), "poll", "--once"]).exit_code == 0
    config_path.write_text(text)


@pytest.mark.usefixtures("on_both_engines")
def test_the_maildir_default_passes_every_check(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    _make_store(config_path)
    code, lines = _check(config_path)
    assert code == 0, lines
    assert all(line.startswith("ok") for line in lines.values())
    assert "Maildir" in lines["source"] and str(tmp_path / "inbox") in lines["source"]
    assert "schema current" in lines["database"]


def test_a_fresh_install_passes_saying_what_the_first_poll_creates(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    code, lines = _check(config_path)
    assert code == 0, lines
    assert all(line.startswith("ok") for line in lines.values()), lines
    for name, path in [("storage.dir", tmp_path / "storage"),
                       ("database", tmp_path / "storage" / "safetymonth.db"),
                       ("source", tmp_path / "inbox"), ("outbox", tmp_path / "outbox")]:
        assert f"{path} does not exist yet: the first safetymonth poll creates it" in \
            lines[name], lines[name]
    # ... and it does: after one poll every check finds what it named.
    assert CliRunner().invoke(main, ["--config", str(config_path), "poll", "--once"]) \
        .exit_code == 0
    code, lines = _check(config_path)
    assert code == 0 and not any("does not exist" in line for line in lines.values()), lines


def test_a_half_made_inbox_and_a_lost_database_fail(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    _make_store(config_path)
    drop(tmp_path / "inbox", "1.eml", b"From: a@b.cn\r\n\r\nhi\r\n")
    assert CliRunner().invoke(main, ["--config", str(config_path), "poll", "--once"]) \
        .exit_code == 0
    (tmp_path / "inbox" / "tmp").rmdir()
    (tmp_path / "storage" / "safetymonth.db").unlink()
    code, lines = _check(config_path)
    assert code == 1
    assert lines["source"].startswith("FAIL") and "tmp/ is missing" in lines["source"]
    assert lines["database"].startswith("FAIL") and "restore" in lines["database"]


def test_a_group_writable_storage_dir_fails_with_the_fix(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    _make_store(config_path)
    (tmp_path / "storage").chmod(0o770)
    code, lines = _check(config_path)
    assert code == 1 and "chmod -R go-rwx" in lines["storage.dir"]


def test_imap_logs_in(tmp_path: Path, dovecot_server: Dovecot, imap_user: str) -> None:
    code, lines = _check(_imap_config(tmp_path, dovecot_server, imap_user))
    assert code == 0, lines
    assert f"IMAP 127.0.0.1:{dovecot_server.port} (none)" in lines["source"]
    assert f"logged in as {imap_user}" in lines["source"]


def test_a_wrong_imap_password_names_the_authorisation_code(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(IMAP_ENV, "not-the-password")
    code, lines = _check(_imap_config(tmp_path, dovecot_server, imap_user))
    assert code == 1
    line = lines["source"]
    assert line.startswith("FAIL") and f"127.0.0.1:{dovecot_server.port}" in line
    assert "login was refused" in line and IMAP_ENV in line and "授权码" in line
    assert "not-the-password" not in line


def test_a_wrong_port_says_to_check_the_port(tmp_path: Path, dovecot_server: Dovecot,
                                             imap_user: str) -> None:
    closed = free_port()
    code, lines = _check(_imap_config(tmp_path, dovecot_server, imap_user, port=closed))
    assert code == 1
    assert f"127.0.0.1:{closed}" in lines["source"] and "check host and port" in lines["source"]


@pytest.mark.parametrize("security", ["starttls", "none"])
def test_plain_or_starttls_on_the_ssl_port_is_a_security_mismatch(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, security: str) -> None:
    config_path = _imap_config(tmp_path, dovecot_server, imap_user, security=security,
                               port=dovecot_server.ssl_port, timeout=2)
    code, lines = _check(config_path)
    assert code == 1
    assert f"({security})" in lines["source"] and "port and security" in lines["source"]


def test_an_untrusted_certificate_names_ca_file(tmp_path: Path, dovecot_server: Dovecot,
                                                imap_user: str) -> None:
    untrusted = _imap_config(tmp_path, dovecot_server, imap_user, security="ssl",
                             port=dovecot_server.ssl_port)
    code, lines = _check(untrusted)
    assert code == 1 and "ca_file" in lines["source"]

    trusted = _imap_config(tmp_path, dovecot_server, imap_user, security="ssl",
                           port=dovecot_server.ssl_port, ca_file=str(dovecot_server.cert))
    code, lines = _check(trusted)
    assert code == 0, lines


def _smtp_config(tmp_path: Path, port: int, **smtp: object) -> Path:
    block = {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5, **smtp}
    config_path = write_config(tmp_path, mailbox={"outbox": {"smtp": block}})
    _make_store(config_path)
    return config_path


def test_smtp_connects(tmp_path: Path, smtp_server: SmtpServer) -> None:
    code, lines = _check(_smtp_config(tmp_path, smtp_server.port))
    assert code == 0, lines
    assert lines["outbox"].endswith(
        f"SMTP 127.0.0.1:{smtp_server.port} (none): connected (no login configured)")


def test_a_refused_smtp_login_names_the_authorisation_code(tmp_path: Path) -> None:
    def refuse(*_args: object) -> AuthResult:
        return AuthResult(success=False, handled=False)

    server = SmtpServer(recorder=Recorder())
    server.controller = Controller(server.recorder, hostname="127.0.0.1", port=server.port,
                                   authenticator=refuse, auth_require_tls=False)
    server.controller.start()
    try:
        code, lines = _check(_smtp_config(tmp_path, server.port, user="aq@163.example.com",
                                          password_env=SMTP_ENV))
    finally:
        server.stop()
    assert code == 1
    assert "login was refused" in lines["outbox"] and "授权码" in lines["outbox"]
    assert "the-auth-code" not in lines["outbox"]


def test_ssl_on_a_plain_smtp_port_is_a_security_mismatch(tmp_path: Path,
                                                         smtp_server: SmtpServer) -> None:
    code, lines = _check(_smtp_config(tmp_path, smtp_server.port, security="ssl"))
    assert code == 1
    assert "(ssl)" in lines["outbox"] and "port and security" in lines["outbox"]


def test_a_config_that_does_not_load_is_one_failing_line(tmp_path: Path) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text("storage: {nonsense: 1}\n")
    result = CliRunner().invoke(main, ["--config", str(config_path), "check"])
    assert result.exit_code == 1
    [line] = result.stdout.splitlines()
    assert line.startswith("FAIL config:")
