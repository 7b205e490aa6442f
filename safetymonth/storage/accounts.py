"""The console's accounts in the store: users, sessions and failed logins.

Over the repository's :class:`~safetymonth.storage.session.Session` (its connection and
transactions), it returns frozen dataclasses and keeps its SQL here. Hashing passwords and making
tokens is the caller's business (:mod:`safetymonth.web.users`, :mod:`safetymonth.web.auth`):
this module stores only hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, text, update

from safetymonth.storage.schema import login_failures, sessions, users
from safetymonth.storage.session import now

if TYPE_CHECKING:
    from safetymonth.storage.repository import Repository

LOGIN_LOCK = 0x5AFE9  # PostgreSQL advisory lock held while a login attempt is counted


@dataclass(frozen=True)
class UserRecord:
    name: str
    role: str
    password_hash: str
    created_at: str
    group: str | None = None  # a groups: id: the user sees only that group's units


@dataclass(frozen=True)
class SessionRecord:
    """A live session with its user's current role (a role change applies at once)."""

    user: str
    role: str
    csrf: str
    expires_at: str
    group: str | None = None


class Accounts:
    def __init__(self, repository: Repository) -> None:
        self.db = repository.session  # the store's connection (method session: a login)

    # --- users ------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str,
                 group: str | None = None) -> bool:
        """A new user (of one group, or of all); False when one of that name exists (it is
        left unchanged)."""
        return self.db.insert_ignoring(users, ["name"], {
            "name": name, "role": role, "password_hash": password_hash, "created_at": now(),
            "group": group})

    def user(self, name: str) -> UserRecord | None:
        row = self.db.one(select(users).where(users.c.name == name))
        return UserRecord(**row._mapping) if row else None

    def users(self) -> list[UserRecord]:
        return [UserRecord(**row._mapping)
                for row in self.db.all(select(users).order_by(users.c.name))]

    def remove_user(self, name: str) -> bool:
        """Remove the user and end their sessions; False when there was no such user."""
        with self.db.transaction():
            self.db.execute(delete(sessions).where(sessions.c.user == name))
            return self.db.execute(
                delete(users).where(users.c.name == name)).rowcount > 0

    def set_password(self, name: str, password_hash: str) -> bool:
        """A new password hash; every session of the user ends. False: no such user."""
        with self.db.transaction():
            self.db.execute(delete(sessions).where(sessions.c.user == name))
            return self.db.execute(update(users).where(users.c.name == name)
                                                .values(password_hash=password_hash)).rowcount > 0

    # --- sessions ---------------------------------------------------------------------

    def open_session(self, token_hash: str, user: str, csrf: str, expires_at: str) -> None:
        """A new session; expired ones are swept in the same transaction."""
        with self.db.transaction():
            self.db.execute(delete(sessions).where(sessions.c.expires_at < now()))
            self.db.execute(sessions.insert().values(
                token_hash=token_hash, user=user, csrf=csrf, created_at=now(),
                expires_at=expires_at))

    def session(self, token_hash: str) -> SessionRecord | None:
        """The session of this token hash, unless it expired or its user was removed."""
        row = self.db.one(
            select(sessions.c.user, users.c.role, sessions.c.csrf, sessions.c.expires_at,
                   users.c.group)
            .join(users, users.c.name == sessions.c.user)
            .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > now()))
        return SessionRecord(**row._mapping) if row else None

    def close_session(self, token_hash: str) -> None:
        self.db.write(delete(sessions).where(sessions.c.token_hash == token_hash))

    # --- failed logins ----------------------------------------------------------------

    def record_login_failure(self, user: str, address: str, forget_before: str) -> None:
        """One failed login; failures older than ``forget_before`` are dropped meanwhile."""
        with self.db.transaction():
            self.db.execute(
                delete(login_failures).where(login_failures.c.at < forget_before))
            self.db.execute(
                login_failures.insert().values(user=user, address=address, at=now()))

    def claim_login_attempt(self, user: str, address: str, since: str, limit: int) -> bool:
        """Check and count a login attempt atomically: False (and nothing recorded) when the
        user or the address has ``limit`` failures since ``since``; else the attempt is
        recorded as a failure (:meth:`forget_login_failures` clears it when it succeeds).

        One write transaction, serialised against every other claim (SQLite: BEGIN
        IMMEDIATE; PostgreSQL: an advisory lock), so parallel attempts cannot all read the
        same count before any of them is recorded."""
        with self.db.transaction():
            if self.db.dialect == "postgresql":
                self.db.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                             {"key": LOGIN_LOCK})
            self.db.execute(
                delete(login_failures).where(login_failures.c.at < since))
            if max(self.login_failures(user, address, since)) >= limit:
                return False
            self.db.execute(
                login_failures.insert().values(user=user, address=address, at=now()))
            return True

    def login_failures(self, user: str, address: str, since: str) -> tuple[int, int]:
        """Failed logins since ``since``: (for this user, from this address)."""
        def count(column: object, value: str) -> int:
            row = self.db.one(select(func.count()).select_from(login_failures)
                                       .where(column == value, login_failures.c.at >= since))
            return int(row[0]) if row else 0

        return count(login_failures.c.user, user), count(login_failures.c.address, address)

    def forget_login_failures(self, user: str) -> None:
        """After a successful login the user's failures no longer count (the address's do)."""
        self.db.write(delete(login_failures).where(login_failures.c.user == user))
