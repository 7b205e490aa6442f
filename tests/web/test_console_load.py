"""The console under real concurrent load and hostile bodies, against a real ``safetymonth
serve`` on loopback (and the store's login throttle on SQLite and PostgreSQL): a huge form is
refused before it is parsed, logins never starve pages, parallel wrong passwords never get
past the throttle, every page says ``no-store``, and the icon is served."""

from __future__ import annotations

import io
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from safetymonth.config import load_config
from safetymonth.storage.repository import open_repository
from safetymonth.web import auth
from tests.support.console import Console, csrf_of
from tests.support.mailservers import write_config

ATTEMPTS = 60


def _login_form(console: Console) -> tuple[str, dict[str, str]]:
    """A login form's token and the cookie it must come back with (double submit)."""
    client = console.client()
    token = csrf_of(client.get("/login").text)
    return token, {auth.LOGIN_COOKIE: client.cookies[auth.LOGIN_COOKIE]}


def _attempt(console: Console, name: str, address: str, token: str,
             cookies: dict[str, str]) -> int:
    """One wrong password for ``name``, as if from ``address`` (nginx's X-Forwarded-For,
    which serve trusts from 127.0.0.1)."""
    with httpx.Client(base_url=console.url, cookies=cookies, timeout=120) as client:
        return client.post("/login", headers={"X-Forwarded-For": address}, data={
            "name": name, "password": "wrong", "csrf": token, "next": "/"}).status_code


# --- 16: bodies are capped before parsing -----------------------------------------------------


@pytest.mark.slow
def test_a_huge_login_form_is_refused_before_it_is_parsed(console: Console) -> None:
    token, cookies = _login_form(console)
    with httpx.Client(base_url=console.url, cookies=cookies, timeout=120) as client:
        response = client.post("/login", content=b"&" * (20 * 1024 * 1024), headers={
            "content-type": "application/x-www-form-urlencoded"})
        assert response.status_code == 413
        assert "请求内容过大" in response.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes are counted
        yield f"csrf={token}&name=clerk&password=x".encode()
        for _ in range(100):
            yield b"&" * 65536

    with httpx.Client(base_url=console.url, cookies=cookies, timeout=120) as client:
        response = client.post("/login", content=chunks(), headers={
            "content-type": "application/x-www-form-urlencoded"})
        assert response.status_code == 413
    # A decision's form is capped too; a small one still works.
    clerk = console.logged_in()
    csrf = csrf_of(clerk.get("/").text)
    big = clerk.post("/remind", data={"csrf": csrf, "pad": "x" * 70_000})
    assert big.status_code == 413
    assert clerk.get("/api/history").json() == []
    assert clerk.post("/files/1/accept", data={"csrf": csrf, "reason": "核实无误"}) \
        .status_code == 303


# --- 17: logins never starve pages ------------------------------------------------------------


@pytest.mark.slow  # among the heaviest of the fast loop (--durations)
def test_pages_are_served_while_a_burst_of_logins_runs(console: Console) -> None:
    logins = 40
    token, cookies = _login_form(console)
    clerk = console.logged_in()
    finished: list[int] = []
    lock = threading.Lock()
    first_done = threading.Event()

    def login(number: int) -> int:
        # Distinct names and addresses: none of them is throttled, each costs an argon2 run.
        code = _attempt(console, f"guess{number}", f"10.1.0.{number}", token, cookies)
        with lock:
            finished.append(code)
        first_done.set()
        return code

    with ThreadPoolExecutor(logins) as workers:
        futures = [workers.submit(login, number) for number in range(logins)]
        first_done.wait(120)
        page = clerk.get("/units/德化县社会福利中心")
        with lock:
            done_when_page_came = len(finished)
        codes = [future.result() for future in futures]
    assert page.status_code == 200 and "德化县社会福利中心" in page.text
    assert Counter(codes) == {401: logins}
    # The page did not wait for the logins queued before it: most were still running.
    assert done_when_page_came < logins // 2, done_when_page_came


# --- 18: the throttle is checked and recorded atomically -------------------------------------


@pytest.mark.slow
def test_parallel_wrong_passwords_from_many_addresses_stop_at_the_limit(
        console: Console) -> None:
    token, cookies = _login_form(console)
    barrier = threading.Barrier(ATTEMPTS)

    def attempt(number: int) -> int:
        barrier.wait()
        return _attempt(console, "clerk", f"10.2.{number // 250}.{number % 250}", token,
                        cookies)

    with ThreadPoolExecutor(ATTEMPTS) as workers:
        codes = Counter(workers.map(attempt, range(ATTEMPTS)))
    assert codes == {401: auth.MAX_FAILURES, 429: ATTEMPTS - auth.MAX_FAILURES}


def test_the_store_claims_login_attempts_atomically(tmp_path: Path,
                                                    engine: str | None) -> None:
    config = load_config(write_config(tmp_path, database=engine))
    with open_repository(config):
        pass  # the store exists before the threads open their connections
    barrier = threading.Barrier(ATTEMPTS)

    def attempt(number: int) -> bool:
        with open_repository(config) as repository:
            barrier.wait()
            return not auth.begin_login(repository, "clerk", f"10.3.0.{number}").throttled

    with ThreadPoolExecutor(ATTEMPTS) as workers:
        let_through = sum(workers.map(attempt, range(ATTEMPTS)))
    assert let_through == auth.MAX_FAILURES


# --- 22 and 11: caching headers, the icon -----------------------------------------------------


@pytest.mark.slow
def test_private_responses_are_not_stored(console: Console) -> None:
    client = console.logged_in()
    photo = next(item for item in client.get("/api/files").json()
                 if item["kind"] == "photo" and item["width"] == 1920)
    for path in ["/", "/units/德化县社会福利中心", "/uncredited", "/history", "/api/report",
                 "/api/files", f"/files/{photo['id']}", "/report.csv", "/report.xlsx",
                 "/documents"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-store", path
    thumb = client.get(f"/files/{photo['id']}/thumb")
    assert thumb.headers["cache-control"].startswith("private")
    assert "no-store" not in client.get("/static/console.css").headers.get("cache-control", "")


def test_the_favicon_is_an_icon_served_without_a_session(console: Console) -> None:
    response = console.client().get("/favicon.ico")
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as icon:
        assert icon.format == "ICO" and icon.size[0] == icon.size[1] >= 16
