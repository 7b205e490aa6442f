"""Delivering queued replies: a Maildir outbox (the embedded default) or SMTP.

A reply is marked sent only after the transport accepted it; anything else leaves it queued
for the next run. The Maildir file is named after the reply id, so a second delivery after a
crash finds it there and writes nothing. SMTP is at-least-once; the reply's Message-ID is
stable so a duplicate can be recognised by the receiving side.

Because a Maildir delivery is idempotent, the Maildir outbox settles replies in batches: the
files of a batch are fsynced together (with new/) and then marked sent in one commit. SMTP
settles after every reply, so a crash re-sends at most one.
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
from pathlib import Path
from typing import Protocol

from safetymonth.config import Config, SmtpOutbox
from safetymonth.store import Store, fsync_files

log = logging.getLogger(__name__)


class PermanentError(Exception):
    """The server refused this reply for good (5xx): retrying cannot help."""


class Transport(Protocol):
    batch: int  # replies sent between two settlements (flush, then mark sent)

    def send(self, reply_id: str, sender: str, recipient: str, data: bytes) -> None: ...

    def flush(self) -> None:
        """Make what ``send`` accepted durable; raises if it cannot."""

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

    def send(self, reply_id: str, sender: str, recipient: str, data: bytes) -> None:
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
                raise error
        for directory in {path.parent for path in paths}:
            handle = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)

    def _delivered(self, reply_id: str) -> Path | None:
        if (self.path / "new" / reply_id).exists():
            return self.path / "new" / reply_id
        for name in os.listdir(self.path / "cur"):
            if name.split(":", 1)[0] == reply_id:
                return self.path / "cur" / name
        return None

    def close(self) -> None:
        """Nothing held open."""


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
                log.warning("SMTP %s:%s: %s (attempt %d of %d)", self.config.host,
                            self.config.port, failure, attempt + 1, self.config.retries)
        assert error is not None
        raise error

    def _open(self) -> smtplib.SMTP:
        config = self.config
        context = ssl.create_default_context(
            cafile=str(self.ca_file) if self.ca_file else None)
        client: smtplib.SMTP
        if config.security == "ssl":
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout,
                                      context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            if config.security == "starttls":
                client.starttls(context=context)
        if config.user:
            client.login(config.user, config.password())
        return client

    def send(self, reply_id: str, sender: str, recipient: str, data: bytes) -> None:
        client = self._connect()
        wire = re.sub(rb"\r?\n", b"\r\n", data)
        try:
            client.sendmail(sender, [recipient], wire)
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentError(str(error.recipients)) from error
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600:
                raise PermanentError(f"{error.smtp_code} {error.smtp_error!r}") from error
            self.close()
            raise
        except (OSError, smtplib.SMTPException):
            self.close()  # the next reply reconnects
            raise

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def open_transport(config: Config) -> Transport:
    outbox = config.mailbox.outbox
    if isinstance(outbox, SmtpOutbox):
        return SmtpTransport(outbox, config.resolve(outbox.ca_file) if outbox.ca_file else None)
    return MaildirOutbox(config.resolve(outbox.path))


def deliver(store: Store, transport: Transport, sender: str) -> tuple[int, int]:
    """Send every queued reply; returns (sent, still queued). Stops at the first connection
    failure: the rest stay queued for the next run. Sent replies are settled in batches of
    ``transport.batch``: made durable by the transport, then marked sent in one commit."""
    accepted: list[str] = []
    sent = 0

    def settle() -> None:
        if accepted:
            transport.flush()
            store.mark_sent(*accepted)
            accepted.clear()

    queued = store.queued_replies()
    for index, reply in enumerate(queued):
        try:
            transport.send(reply["id"], sender, reply["recipient"], bytes(reply["body"]))
        except PermanentError as error:
            store.mark_attempt_failed(reply["id"], str(error), permanent=True)
            log.warning("reply %s to %s refused: %s", reply["id"], reply["recipient"], error)
            continue
        except (OSError, smtplib.SMTPException) as error:
            settle()
            store.mark_attempt_failed(reply["id"], f"{type(error).__name__}: {error}")
            log.warning("reply %s to %s not sent, stays queued: %s", reply["id"],
                        reply["recipient"], error)
            return sent, len(queued) - index
        accepted.append(reply["id"])
        sent += 1
        log.info("reply %s sent to %s", reply["id"], reply["recipient"])
        if len(accepted) >= transport.batch:
            settle()
    settle()
    return sent, 0
