"""Sessions, CSRF tokens and login throttling.

- The session cookie holds a random token; the store keeps only its SHA-256 with the user and
  the session's CSRF token, so logout and ``user remove`` end a session on every replica.
- The cookie is HttpOnly and SameSite=Lax, and Secure when the request came over TLS (behind
  nginx: ``X-Forwarded-Proto: https``, honoured by uvicorn's proxy headers).
- Every POST carries the CSRF token in a form field (``csrf``) or an ``X-CSRF-Token`` header.
  The login form, before any session, uses a cookie of its own holding a random token
  (double submit).
- After :data:`MAX_FAILURES` failed logins for a user or from an address within
  :data:`WINDOW`, further attempts get 429 until the window has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from safetymonth.storage.accounts import Accounts, SessionRecord
from safetymonth.storage.repository import Repository
from safetymonth.web.users import can_decide, check_password

SESSION_COOKIE = "safetymonth_session"
LOGIN_COOKIE = "safetymonth_login"
SESSION_LIFETIME = timedelta(hours=12)
MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Visitor:
    """Who is asking: a logged-in user, with the token their POSTs must carry."""

    user: str
    role: str
    csrf: str
    token_hash: str

    @property
    def can_decide(self) -> bool:
        return can_decide(self.role)


class LoginRequired(Exception):
    """No valid session: pages redirect to /login, the API answers 401."""


class Forbidden(Exception):
    """A valid session whose role may not do this (a viewer deciding), or a bad CSRF token."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def visitor(repository: Repository, token: str | None) -> Visitor | None:
    if not token or len(token) > 200:
        return None
    digest = token_hash(token)
    found: SessionRecord | None = Accounts(repository).session(digest)
    return Visitor(found.user, found.role, found.csrf, digest) if found else None


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


# --- logging in -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    token: str | None = None  # set when the password was right
    throttled: bool = False


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def log_in(repository: Repository, name: str, password: str, address: str) -> LoginResult:
    """Check the password unless the user or the address is throttled; open a session."""
    accounts = Accounts(repository)
    moment = datetime.now(UTC)
    since = _stamp(moment - WINDOW)
    if max(accounts.login_failures(name, address, since)) >= MAX_FAILURES:
        return LoginResult(throttled=True)
    user = check_password(repository, name, password)
    if user is None:
        accounts.record_login_failure(name, address, forget_before=since)
        return LoginResult()
    accounts.forget_login_failures(name)
    token = secrets.token_urlsafe(32)
    accounts.open_session(token_hash(token), user.name, secrets.token_urlsafe(32),
                          _stamp(moment + SESSION_LIFETIME))
    return LoginResult(token=token)


def log_out(repository: Repository, visitor: Visitor) -> None:
    Accounts(repository).close_session(visitor.token_hash)


# --- cookies --------------------------------------------------------------------------------


def over_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str,
               max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=over_tls(request))


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    set_cookie(response, request, SESSION_COOKIE, token, int(SESSION_LIFETIME.total_seconds()))


def login_form_token(request: Request) -> str:
    """The login form's CSRF token: the one in its cookie, or a new one."""
    current = request.cookies.get(LOGIN_COOKIE, "")
    return current if 20 <= len(current) <= 100 else secrets.token_urlsafe(32)
