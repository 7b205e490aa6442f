"""Each registered unit's upload link: issuing, rotating, printing and resolving it.

A token is HMAC-SHA256 (256 bits, base64url) of a random nonce under a key kept in
``storage.dir`` (0600, made on first use). The store keeps the nonce and the token's SHA-256,
never the token: a copy of the database alone opens no link, and a request is matched by
hashing the token it carries. The key is what lets ``links`` print a unit's link again (and
the console show it) without storing the token itself.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from safetymonth.config import Config, Unit
from safetymonth.storage.files import FILE_MODE, LINK_KEY
from safetymonth.storage.repository import Repository
from safetymonth.storage.uploads import LinkRecord

KEY_FILE = LINK_KEY
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
log = logging.getLogger("safetymonth.links")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # what :func:`token_for` makes, nothing else


@dataclass(frozen=True)
class Link:
    unit: Unit
    url: str
    token: str
    expires_at: str  # UTC, ISO 8601


def stamp(moment: datetime) -> str:
    """A UTC time as the store keeps times (:func:`safetymonth.storage.session.now`)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def public_url(config: Config, warn: bool = True) -> str:
    """Where units reach the console; unset, the local default (and a warning: a unit
    cannot open a loopback address)."""
    if config.web.public_url:
        return config.web.public_url.rstrip("/")
    if warn:
        print("safetymonth: web.public_url is not set; links use " + DEFAULT_PUBLIC_URL
              + ", which units cannot reach: set web.public_url in config.yaml",
              file=sys.stderr)
    return DEFAULT_PUBLIC_URL


def link_key(storage_dir: Path) -> bytes:
    """The key tokens are derived with; made (32 random bytes, 0600) on first use."""
    path = storage_dir / KEY_FILE
    if not path.exists() and not path.is_symlink():
        temp = storage_dir / f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(secrets.token_bytes(32))
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.link(temp, path)  # whole or not at all: never a half-written key
        finally:
            temp.unlink(missing_ok=True)
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(handle, "rb") as stream:
        key = stream.read()
    if len(key) != 32:
        raise ValueError(f"{path}: not a link key (32 bytes); remove it and rotate every link")
    return key


def token_for(key: bytes, nonce: str) -> str:
    digest = hmac.new(key, nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(config: Config, store: Repository, unit: Unit, at: datetime) -> LinkRecord:
    """A new link for ``unit``, valid ``uploads.link_days``; the unit's older links die."""
    nonce = secrets.token_urlsafe(32)
    token = token_for(link_key(config.storage_dir), nonce)
    expires = at + timedelta(days=config.uploads.link_days)
    store.issue_link(unit.key, token_hash(token), nonce, stamp(at), stamp(expires))
    return LinkRecord(token_hash(token), nonce, unit.key, stamp(at), stamp(expires), None)


def units_links(config: Config, store: Repository, units: list[Unit],
                rotate: bool = False, warn: bool = True) -> list[Link]:
    """Each unit's live link; a unit without one (or, ``rotate``, every unit named) gets a
    new one."""
    at = datetime.now(UTC)
    # One unit (a reply's): its own link only, not every unit's.
    live = store.live_links(stamp(at), units[0].key if len(units) == 1 else None)
    key = link_key(config.storage_dir)
    base = public_url(config, warn)
    found = []
    for unit in units:
        record = live.get(unit.key)
        if record is None or rotate:
            record = issue(config, store, unit, at)
        token = token_for(key, record.nonce)
        found.append(Link(unit, f"{base}/u/{token}", token, record.expires_at))
    return found


def unit_link(config: Config, store: Repository, unit: Unit) -> str | None:
    """The URL of ``unit``'s live link as ``safetymonth links`` prints it (issued when it has
    none), for the replies and reminders that carry it; None (logged) when the key cannot be
    read or made (a full disk): the reply still goes, without the link. A group's own
    address gets none: links are the units'."""
    if all(known.key != unit.key for known in config.units):
        return None
    try:
        return units_links(config, store, [unit], warn=False)[0].url
    except (OSError, ValueError) as error:
        log.warning("no upload link for %s in its reply: %s", unit.name, error)
        return None


def resolve(config: Config, store: Repository, token: str) -> tuple[LinkRecord, Unit] | None:
    """The live link a request's token opens and its unit; None for a wrong, rotated or
    expired token, or one whose unit left ``units[]`` (all answered alike)."""
    if not TOKEN.match(token):
        return None
    record = store.link_for_hash(token_hash(token), stamp(datetime.now(UTC)))
    if record is None:
        return None
    unit = next((unit for unit in config.units if unit.key == record.unit), None)
    return None if unit is None else (record, unit)
