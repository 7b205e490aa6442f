"""The console's users: add, list, remove, change a password (``safetymonth user …``), and
checking a password at login. Passwords are hashed with argon2id; only the hash is stored.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from safetymonth.config import Config
from safetymonth.storage.accounts import Accounts, UserRecord
from safetymonth.storage.repository import Repository, open_repository

ROLES = ("admin", "coordinator", "viewer")
DECIDING_ROLES = frozenset({"admin", "coordinator"})  # a viewer can look, not decide
MAX_PASSWORD = 1024  # argon2 takes any length; a bound keeps a login cheap
MIN_PASSWORD = 10
COMMON_PASSWORDS = "common-passwords.txt"  # package data: the commonest passwords, refused

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs what a wrong password
# does and the timing does not tell which names exist. Fixed, made once with the hasher's
# parameters: hashing it at import cost the console's start, every `user` command and every
# process importing the console (each test run) a third of a second of CPU.
_FIXED_DUMMY_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$1j32nkxOEmd4nqcJ6EIssw"
                     "$Jg1z1u28GTilOJXOS55NVZpHwPBF0wqmnjaqk25S1Fo")


class UserError(Exception):
    """A user command that cannot be done, with a message for the clerk."""


def can_decide(role: str) -> bool:
    return role in DECIDING_ROLES


def password_from_lines(text: str) -> str:
    """The password from stdin: its first line; a second line, when present, must repeat it."""
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise UserError("no password: give it as the first line of standard input")
    if len(lines) > 1 and lines[1] and lines[1] != lines[0]:
        raise UserError("the two passwords differ")
    if len(lines[0]) > MAX_PASSWORD:
        raise UserError(f"the password is longer than {MAX_PASSWORD} characters")
    return lines[0]


def check_strength(password: str) -> None:
    """Refuse a password anyone could guess: shorter than ``MIN_PASSWORD`` characters or one
    of the commonest (``common-passwords.txt``, shipped with the package). The console is
    reachable from the bureau's network, and its users decide what counts for every unit."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码太短：至少需要 {MIN_PASSWORD} 个字符，才不易被猜中"
                        f"（现在是 {len(password)} 个）。")
    if password.lower() in _common_passwords():
        raise UserError("这个密码太常见，很容易被猜中（它在常见密码表中），请换一个。")


@cache
def _dummy_hash() -> str:
    """The hash an unknown name is verified against: the fixed one while its parameters are
    the hasher's (argon2-cffi's defaults), else one made now, so that it always costs what
    verifying a user's password does."""
    if _hasher.check_needs_rehash(_FIXED_DUMMY_HASH):
        return _hasher.hash("not a password")
    return _FIXED_DUMMY_HASH


@cache
def _common_passwords() -> frozenset[str]:
    text = files("safetymonth").joinpath(COMMON_PASSWORDS).read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def add_user(config: Config, name: str, role: str, password: str,
             group: str | None = None) -> None:
    check_strength(password)
    if role not in ROLES:
        raise UserError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    if not name.strip() or len(name) > 100:
        raise UserError("a user name is 1 to 100 characters")
    group = _group_of(config, role, group)
    with open_repository(config) as repository:
        if not Accounts(repository).add_user(name, role, _hasher.hash(password), group):
            raise UserError(f"user {name!r} exists already (use `user passwd` to change "
                            f"the password)")


def _group_of(config: Config, role: str, group: str | None) -> str | None:
    """The ``groups:`` id a user is limited to (given by id or name); an admin manages the
    whole campaign (the roster, every unit), so an admin of one group is refused."""
    if group is None:
        return None
    if role == "admin":
        raise UserError("管理员（admin）管理全部单位，不能限定分组；"
                        "分组用户请用 coordinator 或 viewer。")
    for known in config.groups:
        if group in (known.id, known.name):
            return known.id
    names = "、".join(f"{known.id}（{known.name}）" for known in config.groups) or "无"
    raise UserError(f"没有分组“{group}”；配置中的分组（groups:）：{names}")


def list_users(config: Config) -> list[UserRecord]:
    with open_repository(config) as repository:
        return Accounts(repository).users()


def remove_user(config: Config, name: str) -> None:
    with open_repository(config) as repository:
        if not Accounts(repository).remove_user(name):
            raise UserError(f"no user {name!r}")


def change_password(config: Config, name: str, password: str) -> None:
    check_strength(password)
    with open_repository(config) as repository:
        if not Accounts(repository).set_password(name, _hasher.hash(password)):
            raise UserError(f"no user {name!r}")


def password_hash_of(repository: Repository, name: str) -> tuple[UserRecord | None, str]:
    """The user of this name and the hash a login is verified against (a dummy one for an
    unknown name, so that a wrong name costs what a wrong password does)."""
    user = Accounts(repository).user(name)
    return user, user.password_hash if user else _dummy_hash()


def password_matches(password_hash: str, password: str) -> bool:
    """argon2id verification: the costly part of a login, run outside the page pool."""
    try:
        return bool(_hasher.verify(password_hash, password[:MAX_PASSWORD]))
    except (VerificationError, InvalidHashError):
        return False
