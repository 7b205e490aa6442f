"""Transports: a Maildir outbox (the embedded default) or SMTP. A transport sends one reply
and answers what became of it; the outbox loop (:mod:`safetymonth.mailbox.outbox`) keeps the
store. Transports know nothing of the store.

The Maildir file is named after the reply id, so a second delivery after a crash finds it
there (in new/, or in cur/ once a reader has seen it) and writes nothing. SMTP is
at-least-once; the reply's Message-ID is stable so a duplicate can be recognised by the
receiving side.

Who is at fault decides the answer. A 5xx for the recipient (RCPT) or for the message (DATA)
is this reply's problem: :data:`Outcome.REFUSED`, never retried. A 4xx for the recipient
(greylisting): :data:`Outcome.DEFERRED`, this reply waits for the next run and the others go
on. A refused sender (MAIL FROM, e.g. 163.com's "553 Mail from must equal authorized user")
or a refused login is a problem of our account or configuration: :class:`AccountError`. Any
other failure (the connection, a 4xx for the sender or the message):
:class:`ServerUnavailable`. Both are raised, since no further reply can go: the loop stops.

A transport settles in batches of ``batch`` replies: :meth:`Transport.flush` makes what it
accepted durable before the loop marks them sent. The Maildir outbox fsyncs a batch of files
(with new/) at once; SMTP's 250 is durable already, so it settles after every reply and a
crash re-sends at most one.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import tempfile
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

from safetymonth.config import Config, SmtpOutbox
from safetymonth.fsync import fsync_directory, fsync_files
from safetymonth.mailbox import servers
from safetymonth.mailbox.servers import AccountError, ServerUnavailable

log = logging.getLogger(__name__)


class Outcome(Enum):
    SENT = "sent"
    DEFERRED = "deferred"  # refused for now (4xx, e.g. greylisting): stays queued
    REFUSED = "refused"  # refused for good (5xx): retrying cannot help


@dataclass(frozen=True)
class Delivery:
    """What became of one reply, with the server's answer (e.g. "550 5.1.1 no such user")."""

    outcome: Outcome
    answer: str = ""


SENT = Delivery(Outcome.SENT)


# Replies that mean "authenticate first" or "wrong credentials", at whatever stage they come.
AUTH_CODES = frozenset({530, 534, 535, 538})


class Transport(Protocol):
    batch: int  # replies sent between two settlements (flush, then mark sent)

    def send(self, reply_id: str, sender: str, recipient: str, data: bytes) -> Delivery:
        """Hand one reply over; raises :class:`AccountError` or :class:`ServerUnavailable`
        when no reply can go now."""

    def flush(self) -> None:
        """Make what ``send`` accepted durable; raises :class:`ServerUnavailable` if it
        cannot (those replies stay queued)."""

    def close(self) -> None: ...


class MaildirOutbox:
    """Each reply becomes ``new/<reply id>``; tmp/ then link, as Maildir requires. The file
    is complete before it gets its name; :meth:`flush` makes a batch of them durable."""

    batch = 100

    def __init__(self, path: Path) -> None:
        self.path = path
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        self.unsynced: list[Path] = []
        self._listed: set[str] | None = None  # reply ids in new/ or cur/ when the run began

    def send(self, reply_id: str, sender: str, recipient: str, data: bytes) -> Delivery:
        try:
            self._write(reply_id, data)
        except OSError as error:
            raise self._failed(error) from error
        return SENT

    def _write(self, reply_id: str, data: bytes) -> None:
        delivered = self._delivered(reply_id)
        if delivered is not None:  # by a run that stopped before marking it: sync it too
            self.unsynced.append(delivered)
            return
        handle, temp = tempfile.mkstemp(dir=self.path / "tmp", prefix=reply_id)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            # link() fails if the name exists: two writers can never both deliver.
            os.link(temp, self.path / "new" / reply_id)
            self.unsynced.append(self.path / "new" / reply_id)
        except FileExistsError:
            pass
        finally:
            Path(temp).unlink(missing_ok=True)

    def flush(self) -> None:
        paths, self.unsynced = self.unsynced, []
        if not paths:
            return
        for path, error in fsync_files(paths):
            if error is not None:  # not durable: take it back, it stays queued
                path.unlink(missing_ok=True)
                raise self._failed(error) from error
        try:
            for directory in {path.parent for path in paths}:
                fsync_directory(directory)
        except OSError as error:
            raise self._failed(error) from error

    def _failed(self, error: OSError) -> ServerUnavailable:
        return ServerUnavailable(f"the Maildir outbox {self.path}: {error.strerror or error}")

    def _delivered(self, reply_id: str) -> Path | None:
        """The file of a reply delivered before, wherever a reader may have moved it. new/
        and cur/ are listed once per run, new/ first: a file a reader moves from new/ to
        cur/ meanwhile is in one listing or the other."""
        new = self.path / "new" / reply_id
        if new.exists():
            return new
        if self._listed is None:
            self._listed = {name.split(":", 1)[0] for sub in ("new", "cur")
                            for name in os.listdir(self.path / sub)}
        if reply_id not in self._listed:
            return None
        for name in os.listdir(self.path / "cur"):  # rare: delivered, then moved to cur/
            if name.split(":", 1)[0] == reply_id:
                return self.path / "cur" / name
        return None

    def close(self) -> None:
        """Nothing held open; the next run lists the folders afresh."""
        self._listed = None


@dataclass
class SmtpTransport:
    """One connection per run, opened lazily, with retries and backoff on connecting."""

    config: SmtpOutbox
    ca_file: Path | None = None
    client: smtplib.SMTP | None = None
    batch = 1  # at-least-once: settle each reply as soon as the server took it

    def flush(self) -> None:
        """The server's 250 is the durability: nothing to do."""

    def _connect(self) -> smtplib.SMTP:
        if self.client is not None:
            return self.client
        error: Exception | None = None
        for attempt in range(self.config.retries):
            if attempt:
                time.sleep(self.config.backoff * 2 ** (attempt - 1))
            try:
                self.client = self._open()
                return self.client
            except (OSError, smtplib.SMTPException) as failure:
                error = failure
                log.warning("SMTP %s: %s (attempt %d of %d)", self._server, failure,
                            attempt + 1, self.config.retries)
        assert error is not None
        raise servers.unavailable("SMTP", self.config, error) from error

    def login_once(self) -> None:
        """Connect and log in once, without retries, then quit (``safetymonth check``)."""
        self._open().quit()

    def _open(self) -> smtplib.SMTP:
        config = self.config
        context = ssl.create_default_context(
            cafile=str(self.ca_file) if self.ca_file else None)
        # A short timeout until logged in: plain text or STARTTLS on the SSL port just waits.
        timeout = min(config.timeout, servers.CONNECT_TIMEOUT)
        client: smtplib.SMTP
        if config.security == "ssl":
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout,
                                      context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=timeout)
        try:
            if config.security == "starttls":
                client.starttls(context=context)
            if config.user:
                self._login(client, config.user)
            client.sock.settimeout(config.timeout)
            client.timeout = config.timeout
        except BaseException:
            client.close()
            raise
        return client

    def _login(self, client: smtplib.SMTP, user: str) -> None:
        """A refused login is not retried: it cannot succeed, and 163.com locks an account
        after a few failures."""
        config = self.config
        check = (f"check mailbox.outbox.smtp.user ({user}), the password in the environment "
                 f"variable {config.password_env} (163.com, 126.com and QQ want the client "
                 "authorisation code, 授权码, not the web password) and that "
                 "mailbox.address is this account's address")
        try:
            client.login(user, config.password())
        except smtplib.SMTPAuthenticationError as error:
            raise AccountError(f"the SMTP server {self._server} refused the login of {user}: "
                               f"{_reply(error)}; {check}") from error
        except smtplib.SMTPNotSupportedError as error:
            raise AccountError(f"the SMTP server {self._server} offers no login here ({error}); "
                               "check mailbox.outbox.smtp.security (ssl or starttls) and port"
                               ) from error

    @property
    def _server(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _sender_refused(self, sender: str, reply: str) -> AccountError:
        user = self.config.user
        login = f"the SMTP user ({user})" if user else \
            "an SMTP user (mailbox.outbox.smtp.user is not set, so we did not log in)"
        return AccountError(f"the SMTP server {self._server} refused our sender {sender}: "
                            f"{reply}; check that mailbox.address ({sender}) is the address of "
                            f"{login}")

    def send(self, reply_id: str, sender: str, recipient: str, data: bytes) -> Delivery:
        client = self._connect()
        wire = re.sub(rb"\r?\n", b"\r\n", data)
        try:
            client.sendmail(sender, [recipient], wire)
        except smtplib.SMTPRecipientsRefused as error:
            [(code, text)] = error.recipients.values()
            return self._recipient_refused(sender, smtplib.SMTPResponseException(code, text))
        except smtplib.SMTPSenderRefused as error:
            if 500 <= error.smtp_code < 600:
                raise self._sender_refused(sender, _reply(error)) from error
            raise self._dropped(error) from error
        except smtplib.SMTPResponseException as error:
            if error.smtp_code in AUTH_CODES:
                raise self._sender_refused(sender, _reply(error)) from error
            if isinstance(error, smtplib.SMTPDataError) and 500 <= error.smtp_code < 600:
                return Delivery(Outcome.REFUSED, f"message refused: {_reply(error)}")
            raise self._dropped(error) from error  # a 4xx, or a refused greeting
        except (OSError, smtplib.SMTPException) as error:
            raise self._dropped(error) from error
        return SENT

    def _recipient_refused(self, sender: str, error: smtplib.SMTPResponseException) -> Delivery:
        reply = _reply(error)
        if error.smtp_code == 421:  # the server is closing the connection
            raise self._dropped(error)
        if error.smtp_code in AUTH_CODES:
            raise self._sender_refused(sender, reply)
        if 500 <= error.smtp_code < 600:
            return Delivery(Outcome.REFUSED, f"recipient refused: {reply}")
        return Delivery(Outcome.DEFERRED, f"recipient deferred: {reply}")

    def _dropped(self, error: Exception) -> ServerUnavailable:
        """The connection is of no more use: close it (the next reply reconnects) and say
        the rest waits for the next run."""
        self.close()
        text = _reply(error) if isinstance(error, smtplib.SMTPResponseException) else \
            f"{type(error).__name__}: {error}"
        return ServerUnavailable(f"the SMTP server {self._server}: {text}")

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def _reply(error: smtplib.SMTPResponseException) -> str:
    """The server's answer, e.g. ``550 5.1.1 no such user``."""
    text = error.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{error.smtp_code} {text}"


def open_transport(config: Config) -> Transport:
    outbox = config.mailbox.outbox
    if isinstance(outbox, SmtpOutbox):
        return SmtpTransport(outbox, config.resolve(outbox.ca_file) if outbox.ca_file else None)
    return MaildirOutbox(config.resolve(outbox.path))
