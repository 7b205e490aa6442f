"""The console under test: a store filled by real intake, users added through the CLI, and
``safetymonth serve`` as its own process on a free loopback port (a real uvicorn)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from safetymonth.cli import main
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.mailservers import drop, free_port, write_config

PASSWORDS = {"admin": "admin-pass-1", "clerk": "clerk-pass-2", "viewer": "viewer-pass-3"}
ROLES = {"admin": "admin", "clerk": "coordinator", "viewer": "viewer"}
HOSTILE_NAME = '<img src=x onerror="alert(1)">.jpg'
STRANGER = "stranger@qq.example.com"


@dataclass
class Console:
    url: str
    config_path: Path
    folder: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)

    def logged_in(self, user: str = "clerk") -> httpx.Client:
        client = self.client()
        response = log_in(client, user, PASSWORDS[user])
        assert response.status_code == 303, response.text
        return client


def cli(config_path: Path, *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(main, ["--config", str(config_path), *args], input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def fill_store(folder: Path, media: Media) -> Path:
    """A config and a store holding a complete unit, a failing photo, a GBK Foxmail zip, an
    unknown sender, and a mail whose attachment name is an HTML injection."""
    config_path = write_config(folder)
    inbox = folder / "inbox"
    drop(inbox, "1.eml", samplemail.complete_submission("fuli@dhmz.example.cn", media))
    drop(inbox, "2.eml", samplemail.failing_photo("xzjly@dhmz.example.cn", media))
    drop(inbox, "3.eml", samplemail.foxmail_gbk("wang@etfly.example.cn", media))
    drop(inbox, "4.eml", samplemail.complete_submission(STRANGER, media))
    drop(inbox, "5.eml", samplemail.message("byg@dhmz.example.cn", "照片", [
        samplemail.text_part("见附件"),
        samplemail.file_part(media.small_photo, samplemail.utf8_name(HOSTILE_NAME),
                             "image/jpeg")]))
    cli(config_path, "poll", "--once")
    for name, role in ROLES.items():
        cli(config_path, "user", "add", name, "--role", role, stdin=PASSWORDS[name] + "\n")
    return config_path


def serve(config_path: Path) -> Iterator[Console]:
    """``safetymonth serve`` on a free port until the test ends."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "safetymonth", "--config", str(config_path), "serve",
         "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield Console(url, config_path, config_path.parent)
    finally:
        stop(process, 10)


def stop(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, as systemd stops a service; SIGKILL after ``grace`` seconds."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited: {process.stderr.read().decode()[-2000:]}"
                               if process.stderr else "serve exited")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).text == "ok":
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def log_in(client: httpx.Client, name: str, password: str) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf": token,
                                       "next": "/"})


@pytest.fixture(scope="session")
def filled_store(tmp_path_factory: pytest.TempPathFactory, mail_media: Media) -> Path:
    """A folder with the config and the store of :func:`fill_store`, made once (SQLite)."""
    return fill_store(tmp_path_factory.mktemp("console-store"), mail_media).parent


@pytest.fixture
def console(tmp_path: Path, filled_store: Path) -> Iterator[Console]:
    """A running console on a copy of the filled store, its own for each test."""
    shutil.copytree(filled_store, tmp_path / "console")
    yield from serve(tmp_path / "console" / "config.yaml")


@pytest.fixture(scope="module")
def shared_console(tmp_path_factory: pytest.TempPathFactory,
                   filled_store: Path) -> Iterator[Console]:
    """One running console for the tests of a module that change nothing another test reads
    (no decision, no failed login: the throttle counts those; no user removed), started once
    instead of once per test (each start is a process importing the whole console)."""
    folder = tmp_path_factory.mktemp("shared-console")
    shutil.copytree(filled_store, folder / "console")
    yield from serve(folder / "console" / "config.yaml")
