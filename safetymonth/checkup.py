"""``safetymonth check``: is this installation ready to run? One line per check, each
saying what was checked and, on failure, what to look at.

Checks change nothing: the storage folder and the database are not created, the source and
the outbox are only logged in to (IMAP/SMTP) or looked at (Maildir folders).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from imap_tools.errors import ImapToolsError

from safetymonth.config import Config, ConfigError, ImapSource, MaildirPath, SmtpOutbox
from safetymonth.storage.errors import StorageError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def run_checks(config: Config) -> Iterator[Check]:
    """Every check after the config's own (which the caller did, by loading it)."""
    yield _check("storage.dir", lambda: _storage_dir(config.storage_dir))
    yield _check("database", lambda: _database(config))
    yield _mail("source", config, config.mailbox.source)
    yield _mail("outbox", config, config.mailbox.outbox)
    yield _check("LibreOffice", _libreoffice)


def _check(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except (StorageError, ConfigError, OSError) as error:
        return Check(name, False, str(error))


def _storage_dir(root: Path) -> str:
    from safetymonth.storage.files import check_folder

    if not root.exists() and not root.is_symlink():
        return _made_by_first_poll(root, "owner-only")
    check_folder(root)  # owner-only, no symlink, or StorageFolderError saying the fix
    return f"{root} exists, owner-only"


def _made_by_first_poll(path: Path, what: str) -> str:
    """A fresh install has no store yet: that is expected, as long as the first poll can
    make ``path`` (its nearest existing folder is writable by this user)."""
    parent = next(folder for folder in path.parents if folder.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise StorageError(f"{path} does not exist, and {parent} is not a folder this user "
                           f"can write in: the first safetymonth poll could not create it")
    return f"{path} does not exist yet: the first safetymonth poll creates it ({what})"


def _database(config: Config) -> str:
    from safetymonth.storage.database import DB_NAME, database_url, schema_status
    from safetymonth.storage.files import RAW_DIR

    url = config.database_url
    if url is None and not (config.storage_dir / DB_NAME).is_file():
        raw = config.storage_dir / RAW_DIR
        if not (raw.is_dir() and any(raw.iterdir())):  # no mail stored: a fresh install
            return _made_by_first_poll(config.storage_dir / DB_NAME, "SQLite, current schema")
        raise StorageError(f"{config.storage_dir / DB_NAME} does not exist although "
                           f"{raw} holds mail: restore the database from a backup")
    where = url.split("@")[-1] if url else str(config.storage_dir / DB_NAME)
    status = schema_status(database_url(config.storage_dir, url), config.storage.password())
    return f"{where}: {status}"


def _libreoffice() -> str:
    from safetymonth.docgen.pdf import PdfError, soffice

    try:
        return f"found at {soffice()}"
    except PdfError as error:
        raise StorageError(str(error)) from None


def _mail(name: str, config: Config, endpoint: MaildirPath | ImapSource | SmtpOutbox) -> Check:
    if isinstance(endpoint, MaildirPath):
        return _check(name, lambda: _maildir(config.resolve(endpoint.path)))
    from safetymonth.mailbox import servers

    where = servers.where("IMAP" if isinstance(endpoint, ImapSource) else "SMTP", endpoint)
    try:
        _log_in(config, endpoint)
    except ConfigError as error:
        return Check(name, False, f"{where}: {error}")
    except (*servers.RAW_ERRORS, ImapToolsError, servers.ServerError) as error:
        return Check(name, False, f"{where}: {servers.reason(error)}; "
                                  f"{servers.hint(error, endpoint)}")
    if not endpoint.user:  # an SMTP relay that takes mail without a login
        return Check(name, True, f"{where}: connected (no login configured)")
    return Check(name, True, f"{where}: connected and logged in as {endpoint.user}")


def _maildir(folder: Path) -> str:
    if not folder.exists() and not folder.is_symlink():
        return _made_by_first_poll(folder, "Maildir new/, cur/, tmp/")
    for sub in ("new", "cur", "tmp"):
        path = folder / sub
        if not path.is_dir():
            raise StorageError(f"Maildir {folder}: {sub}/ is missing: create it (mkdir -p "
                               f"{folder}/new {folder}/cur {folder}/tmp)")
        if not os.access(path, os.W_OK | os.X_OK):
            raise StorageError(f"Maildir {folder}: {sub}/ is not writable by this user")
    return f"Maildir {folder}: present and writable"


def _log_in(config: Config, endpoint: ImapSource | SmtpOutbox) -> None:
    ca_file = config.resolve(endpoint.ca_file) if endpoint.ca_file else None
    if isinstance(endpoint, ImapSource):
        from safetymonth.mailbox.imap import ImapMailbox

        mailbox = ImapMailbox(endpoint, ca_file)
        try:
            mailbox.open()
        finally:
            mailbox.close()
    else:
        from safetymonth.mailbox.transports import SmtpTransport

        SmtpTransport(endpoint, ca_file).login_once()
