"""Sessions, CSRF tokens and login throttling.

- The session cookie holds a random token; the store keeps only its SHA-256 with the user and
  the session's CSRF token, so logout and ``user remove`` end a session on every replica.
- The cookie is HttpOnly and SameSite=Lax, and Secure when the request came over TLS (behind
  nginx: ``X-Forwarded-Proto: https``, honoured by uvicorn's proxy headers).
- Every POST carries the CSRF token in a form field (``csrf``) or an ``X-CSRF-Token`` header.
  The login form, before any session, uses a cookie of its own holding a random token
  (double submit).
- After :data:`MAX_FAILURES` failed logins for a user or from an address within
  :data:`WINDOW`, further attempts get 429 until the window has passed. Each attempt is
  checked and counted in one transaction before its password is verified, so parallel
  attempts cannot slip past the limit.
- Passwords are verified on a pool of their own (:data:`PASSWORD_WORKERS` threads), not in
  the page pool: logins never starve pages.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from safetymonth.storage.accounts import Accounts, SessionRecord
from safetymonth.storage.repository import Repository
from safetymonth.web.users import can_decide, password_hash_of, password_matches

SESSION_COOKIE = "safetymonth_session"
LOGIN_COOKIE = "safetymonth_login"
SESSION_LIFETIME = timedelta(hours=12)
MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)
PASSWORD_WORKERS = 1  # argon2 runs at once per process (each uses every core for ~0.1 s)
_verifier = ThreadPoolExecutor(max_workers=PASSWORD_WORKERS, thread_name_prefix="password")


@dataclass(frozen=True)
class Visitor:
    """Who is asking: a logged-in user, with the token their POSTs must carry."""

    user: str
    role: str
    csrf: str
    token_hash: str
    group: str | None = None  # a groups: id: this visitor sees only that group's units

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
    return Visitor(found.user, found.role, found.csrf, digest, found.group) if found else None


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


# --- logging in ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginAttempt:
    """A login let through the throttle (already counted as a failure until the password
    proves right), with the hash its password is verified against."""

    name: str
    known: bool  # a user of this name exists
    password_hash: str
    throttled: bool = False


@dataclass(frozen=True)
class LoginResult:
    token: str | None = None  # set when the password was right
    throttled: bool = False


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def begin_login(repository: Repository, name: str, address: str) -> LoginAttempt:
    """Check the throttle and count this attempt in one transaction of the store (so that
    parallel attempts from many addresses never get past :data:`MAX_FAILURES`), and fetch
    the user's hash. Short: it runs in the page pool."""
    since = _stamp(datetime.now(UTC) - WINDOW)
    if not Accounts(repository).claim_login_attempt(name, address, since, MAX_FAILURES):
        return LoginAttempt(name, False, "", throttled=True)
    user, password_hash = password_hash_of(repository, name)
    return LoginAttempt(name, user is not None, password_hash)


async def verify_password(attempt: LoginAttempt, password: str) -> bool:
    """argon2 on a small pool of its own (:data:`PASSWORD_WORKERS` threads, queued beyond
    that): a burst of logins never holds the page pool's connections or the event loop's
    worker threads, so pages stay fast while passwords are checked."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_verifier, password_matches, attempt.password_hash,
                                      password)


def finish_login(repository: Repository, attempt: LoginAttempt, matched: bool) -> LoginResult:
    """After the password was verified: a right one clears the user's failures (this
    attempt's too) and opens a session; a wrong one stays counted."""
    if not matched or not attempt.known:
        return LoginResult()
    accounts = Accounts(repository)
    accounts.forget_login_failures(attempt.name)
    token = secrets.token_urlsafe(32)
    accounts.open_session(token_hash(token), attempt.name, secrets.token_urlsafe(32),
                          _stamp(datetime.now(UTC) + SESSION_LIFETIME))
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
