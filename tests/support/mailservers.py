"""Real mail servers for the tests: Dovecot (IMAP) and aiosmtpd (SMTP), on loopback.

Dovecot runs from a config written into a temp folder: passwd-file users, Maildir storage,
``imap_id_log = *`` so a test can read the client's IMAP ID from its log, plus a self-signed
certificate for the SSL and STARTTLS tests.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from imap_tools import MailBoxUnencrypted

from safetymonth.config import load_config
from safetymonth.mailbox.samplemail import Media, make_media
from safetymonth.storage.repository import Repository, open_repository

PASSWORD = "s3cret-pw"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


def make_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True,
                   capture_output=True)
    return cert, key


def _accounts() -> tuple[str, str, str]:
    """(login user, internal user, mail user). Dovecot refuses root for login processes and
    for mail, so as root we use the users the Debian package creates."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        return me, me, me
    return "dovenull", "dovecot", "nobody"


@dataclass
class Dovecot:
    root: Path
    port: int = 0
    ssl_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    users: list[str] = field(default_factory=list)

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def cert(self) -> Path:
        return self.root / "cert.pem"

    def start(self) -> None:
        login, internal, mail = _accounts()
        self.port, self.ssl_port = free_port(), free_port()
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        make_certificate(self.root)
        self._write_users()
        group = grp.getgrgid(pwd.getpwnam(mail).pw_gid).gr_name
        for sub in ("mail", "home"):
            shutil.chown(self.root / sub, mail, group)
        (self.root / "dovecot.conf").write_text(CONFIG.format(
            root=self.root, port=self.port, ssl_port=self.ssl_port, login=login,
            internal=internal, mail=mail, group=group), encoding="utf-8")
        self.process = subprocess.Popen(["dovecot", "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        self._wait_for_auth()

    def _wait_for_auth(self, timeout: float = 15.0) -> None:
        """The listener opens before the auth process is ready: log in until it works."""
        probe = self.add_user()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client(probe).logout()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None

    def _write_users(self, count: int = 200) -> None:
        # Written once before start: Dovecot notices a changed passwd-file only by its mtime
        # in whole seconds, so accounts added later could stay unknown for a second.
        self.users = [f"u{uuid.uuid4().hex[:10]}" for _ in range(count)]
        (self.root / "passwd").write_text(
            "".join(f"{user}:{{PLAIN}}{PASSWORD}::::::\n" for user in self.users),
            encoding="utf-8")

    def add_user(self) -> str:
        """A fresh account (an empty mailbox) for one test."""
        return self.users.pop()

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user

    def client(self, user: str, folder: str | None = "INBOX") -> MailBoxUnencrypted:
        return MailBoxUnencrypted("127.0.0.1", self.port).login(user, PASSWORD, folder)

    def append(self, user: str, data: bytes, folder: str = "INBOX") -> None:
        with self.client(user, None) as box:
            box.append(data, folder, flag_set=[])

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login}
default_internal_user = {internal}
default_internal_group = {internal}
mail_location = maildir:{root}/mail/%u
imap_id_log = *
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail} gid={group} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
  }}
}}
"""


class Recorder:
    """An aiosmtpd handler that keeps every accepted message."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        with self.lock:
            self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), data))
        return "250 OK"


@dataclass
class SmtpServer:
    """A real SMTP server on a fixed loopback port that can be stopped and restarted."""

    port: int = field(default_factory=free_port)
    recorder: Recorder = field(default_factory=Recorder)
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@contextlib.contextmanager
def refusing_logins(logins: list[tuple[object, str]]) -> Iterator[SmtpServer]:
    """A started SMTP server that refuses every login, noting (client address, user)."""

    def wrong_password(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        logins.append((session.peer, auth_data.login.decode()))
        return AuthResult(success=False, handled=False)

    recorder = Recorder()
    server = SmtpServer(recorder=recorder)
    server.controller = Controller(recorder, hostname="127.0.0.1", port=server.port,
                                   authenticator=wrong_password, auth_require_tls=False)
    server.controller.start()
    try:
        yield server
    finally:
        server.stop()


# --- fixtures (imported by tests/conftest.py) ----------------------------------------------


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    """One Dovecot for the session; each test takes a fresh account with ``imap_user``."""
    # Not under pytest's 0700 basetemp: the unprivileged mail user must reach the Maildirs.
    root = Path(tempfile.mkdtemp(prefix="safetymonth-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap_user(dovecot_server: Dovecot) -> str:
    return dovecot_server.add_user()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mail_media() -> Media:
    """Real photo, video and documents for building messages, made once."""
    return make_media()


# --- helpers ---------------------------------------------------------------------------------


# storage.database of the configs write_config writes, unless told: the engine under test in
# a module marked ``pytest.mark.usefixtures("on_both_engines")`` (see conftest), else SQLite.
DATABASE: str | None = None


def write_config(folder: Path, database: str | None = None, **sections: object) -> Path:
    """A config.yaml in ``folder``: Maildir in/out under it, the store in ``storage`` on
    ``database`` (default :data:`DATABASE`), plus the given sections merged."""
    data: dict[str, object] = {
        "storage": {"dir": "storage", **({"database": database or DATABASE}
                                          if database or DATABASE else {})},
        "mailbox": {"source": "maildir:inbox", "outbox": "maildir:outbox"},
    }
    for name, value in sections.items():
        base = data.get(name)
        data[name] = {**base, **value} if isinstance(base, dict) and isinstance(value, dict) \
            else value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def open_store(folder: Path) -> Repository:
    """The store of the config.yaml that :func:`write_config` wrote into ``folder``."""
    return open_repository(load_config(folder / "config.yaml"))


def drop(folder: Path, name: str, data: bytes) -> Path:
    """Deliver one message into the Maildir ``folder`` (tmp/ then rename into new/)."""
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    temp = folder / "tmp" / name
    temp.write_bytes(data)
    target = folder / "new" / name
    temp.rename(target)
    return target


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}
