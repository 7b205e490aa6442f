"""The console's security rules, against a real ``safetymonth serve`` on loopback: sessions,
CSRF, roles, hostile names, ids that look like paths, login throttling, cookie flags."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from tests.support.console import HOSTILE_NAME, PASSWORDS, Console, cli, csrf_of, log_in

PAGES = ["/", "/units/德化县社会福利中心", "/uncredited", "/history", "/remind", "/report.csv",
         "/report.xlsx",
         "/files/1", "/api/report", "/api/messages", "/api/files", "/api/history",
         "/api/openapi.json"]
POSTS = ["/logout", "/remind", "/files/1/accept", "/files/1/reject", "/messages/4/credit",
         "/messages/4/dismiss", "/decisions/1/undo", "/units/德化县殡仪馆/add"]
DECISIONS = ["/files/1/accept", "/files/1/reject", "/messages/4/credit", "/messages/4/dismiss",
             "/units/德化县殡仪馆/add"]

# The tests that change nothing another reads share one console (``shared_console``); those
# that fail logins (the throttle counts them) or remove a user start their own.


def test_healthz_needs_no_session(shared_console: Console) -> None:
    response = shared_console.client().get("/healthz")
    assert (response.status_code, response.text) == (200, "ok")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_refuses_without_a_session(shared_console: Console, path: str) -> None:
    response = shared_console.client().get(path)
    if path.startswith("/api/"):
        assert response.status_code == 401
    else:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
    assert "德化县" not in response.text


@pytest.mark.parametrize("path", POSTS)
def test_every_post_refuses_without_csrf(shared_console: Console, path: str) -> None:
    client = shared_console.logged_in("admin")
    assert client.post(path, data={}).status_code == 403
    assert client.post(path, data={"csrf": "forged"}).status_code == 403
    # Nothing was done: the session still works (logout would have ended it), no decision.
    assert client.get("/").status_code == 200
    assert client.get("/api/history").json() == []


def test_login_needs_its_csrf_token(shared_console: Console) -> None:
    client = shared_console.client()
    client.get("/login")
    response = client.post("/login", data={"name": "clerk", "password": PASSWORDS["clerk"],
                                           "csrf": "guessed"})
    assert response.status_code == 403
    assert "safetymonth_session" not in response.cookies


def test_session_cookie_flags_over_plain_http(shared_console: Console) -> None:
    client = shared_console.client()
    response = log_in(client, "clerk", PASSWORDS["clerk"])
    cookie = next(value for name, value in response.headers.multi_items()
                  if name == "set-cookie" and value.startswith("safetymonth_session="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags and "samesite=lax" in flags
    assert "secure" not in flags  # plain http on 127.0.0.1 must still work


def test_session_cookie_secure_behind_tls_proxy(shared_console: Console) -> None:
    # nginx terminating TLS on this host says so with X-Forwarded-Proto.
    client = shared_console.client()
    client.headers["X-Forwarded-Proto"] = "https"
    response = log_in(client, "clerk", PASSWORDS["clerk"])
    cookie = response.headers.get("set-cookie", "")
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_logout_ends_the_session(shared_console: Console) -> None:
    client = shared_console.logged_in()
    token = client.cookies["safetymonth_session"]
    assert client.post("/logout", data={"csrf": csrf_of(client.get("/").text)}) \
        .status_code == 303
    stolen = shared_console.client()
    stolen.cookies.set("safetymonth_session", token)
    assert stolen.get("/").status_code == 303


@pytest.mark.slow
def test_removed_user_loses_their_session(console: Console) -> None:
    client = console.logged_in("viewer")
    cli(console.config_path, "user", "remove", "viewer")
    assert client.get("/api/report").status_code == 401


def test_viewer_cannot_decide(shared_console: Console) -> None:
    viewer = shared_console.logged_in("viewer")
    page = viewer.get("/remind").text
    assert "确认发送催报" not in page
    assert "认定合格" not in viewer.get("/units/德化县社会福利中心").text
    token = csrf_of(viewer.get("/").text)
    assert viewer.post("/remind", data={"csrf": token}).status_code == 403
    for path in DECISIONS:
        response = viewer.post(path, data={"csrf": token, "reason": "x", "unit": "德化县殡仪馆"})
        assert response.status_code == 403, path
    assert viewer.get("/api/history").json() == []
    assert not list((shared_console.folder / "outbox" / "new").glob("reminder*"))


def test_hostile_attachment_name_is_escaped(shared_console: Console) -> None:
    client = shared_console.logged_in()
    page = client.get("/units/德化县殡仪馆").text
    assert HOSTILE_NAME not in page and "<img src=x" not in page
    assert html.escape(HOSTILE_NAME, quote=False).split('"')[0] + "&#34;alert(1)&#34;&gt;.jpg" \
        in page


def test_hostile_name_download_header(shared_console: Console) -> None:
    client = shared_console.logged_in()
    files = client.get("/api/files").json()
    hostile = next(item for item in files if item["name"] == HOSTILE_NAME)
    response = client.get(f"/files/{hostile['id']}")
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert "<" not in disposition and '"alert' not in disposition
    assert response.headers["x-content-type-options"] == "nosniff"


def test_photo_served_with_disposition_and_nosniff(shared_console: Console) -> None:
    client = shared_console.logged_in()
    photo = next(item for item in client.get("/api/files").json()
                 if item["kind"] == "photo" and item["ok"])
    response = client.get(f"/files/{photo['id']}")
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-disposition"].startswith("inline; filename")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content[:3] == b"\xff\xd8\xff"
    document = next(item for item in client.get("/api/files").json()
                    if item["kind"] == "document")
    response = client.get(f"/files/{document['id']}")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment; filename")


@pytest.mark.parametrize("path", [
    "/files/..%2F..%2Fetc%2Fpasswd", "/files/%2e%2e", "/files/-1", "/files/1.0",
    "/files/0x1", "/files/99999999", "/files/%00", "/files/１",
    "/units/..%2F..%2Fetc%2Fpasswd", "/units/%2e%2e", "/units/nobody",
    "/static/..%2F..%2Fstorage%2Frepository.py", "/api/messages?unit=..%2F..",
])
def test_traversal_looking_ids_are_404(shared_console: Console, path: str) -> None:
    response = shared_console.logged_in().get(path)
    assert response.status_code == 404
    assert "root:" not in response.text and "import" not in response.text


def _failed_logins(client: httpx.Client, name: str, count: int) -> list[int]:
    return [log_in(client, name, "wrong").status_code for _ in range(count)]


@pytest.mark.slow
def test_login_throttled_per_user(console: Console) -> None:
    codes = _failed_logins(console.client(), "clerk", 10)
    assert codes == [401] * 10
    # The 11th attempt is refused even with the right password.
    assert log_in(console.client(), "clerk", PASSWORDS["clerk"]).status_code == 429
    # Another user from the same address is throttled too (the address's count).
    assert log_in(console.client(), "admin", PASSWORDS["admin"]).status_code == 429


@pytest.mark.slow
def test_login_throttled_per_address_across_names(console: Console) -> None:
    client = console.client()
    codes = [log_in(client, f"guess{number}", "wrong").status_code for number in range(10)]
    assert codes == [401] * 10
    assert log_in(client, "someone-else", "x").status_code == 429


@pytest.mark.slow
def test_login_throttle_is_shared_through_the_store(console: Console) -> None:
    # Two servers on one store (replicas): failures at one count at the other.
    from tests.support.console import serve

    _failed_logins(console.client(), "viewer", 10)
    for other in serve(console.config_path):
        assert log_in(other.client(), "viewer", PASSWORDS["viewer"]).status_code == 429


def test_security_headers_on_pages(shared_console: Console) -> None:
    response = shared_console.logged_in().get("/")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert not re.search(r"<script>(?!</script>)", response.text)  # no inline scripts


def test_login_redirect_stays_on_site(shared_console: Console) -> None:
    client = shared_console.client()
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": "clerk", "password": PASSWORDS["clerk"],
                                           "csrf": token, "next": "//evil.example/"})
    assert response.headers["location"] == "/"
