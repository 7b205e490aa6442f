"""An IMAP folder as the inbox, with imap-tools for the connection, folders and IDLE.

Incremental by UIDVALIDITY+UID. Bodies are fetched with BODY.PEEK so nothing is marked before
the store has committed. imap-tools' ``flag()``, ``move()`` and ``delete()`` EXPUNGE the
whole folder, which would also remove messages another client has flagged \\Deleted, so the
processed action is sent as plain UID commands on our own UIDs.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from threading import Event

from imap_tools.errors import ImapToolsError, MailboxFolderSelectError, MailboxLoginError
from imap_tools.mailbox import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.utils import encode_folder

from safetymonth.config import ImapSource
from safetymonth.mailbox import servers
from safetymonth.mailbox.source import Item

log = logging.getLogger(__name__)

imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED"))
# One FETCH asks for at most this many bytes or messages, so a 50 MB message comes alone.
BATCH_BYTES = 16 * 1024 * 1024
BATCH_COUNT = 100
IDLE_SLICE = 5.0  # seconds per IDLE round, so SIGTERM is noticed promptly
UID = re.compile(rb"\bUID (\d+)")
SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


class ImapMailbox:
    def __init__(self, config: ImapSource, ca_file: Path | None = None) -> None:
        self.config = config
        self.ca_file = ca_file
        self.name = f"imap:{config.user}@{config.host}/{config.folder}"
        self.label = f"imap://{config.user}@{config.host}:{config.port}/{config.folder}"
        self.box: BaseMailBox | None = None
        self.uidvalidity = 0
        self.warned_no_expunge = False

    # --- connection ---------------------------------------------------------------------

    def _connect(self) -> BaseMailBox:
        """The logged-in connection with the folder selected; a failure is a
        :class:`~safetymonth.mailbox.servers.ServerError` naming the server and what to
        check (:class:`~safetymonth.mailbox.servers.AccountError` for a refused login)."""
        if self.box is not None:
            return self.box
        config = self.config
        try:
            box = self._log_in()
        except MailboxLoginError as error:
            raise servers.login_refused("IMAP", config, config.user, error) from error
        except (*servers.RAW_ERRORS, ImapToolsError) as error:
            raise servers.unavailable("IMAP", config, error) from error
        try:
            box.folder.set(config.folder)
            self.uidvalidity = _uidvalidity(box)
        except MailboxFolderSelectError as error:
            with contextlib.suppress(Exception):
                box.logout()
            raise servers.ServerUnavailable(
                f"{servers.where('IMAP', config)}: SELECT {config.folder} refused: "
                f"{servers.reason(error)}; check mailbox.source.imap.folder (163.com refuses "
                "SELECT for a while after a login it finds unsafe)") from error
        self.box = box
        return box

    def _log_in(self) -> BaseMailBox:
        config = self.config
        context = ssl.create_default_context(
            cafile=str(self.ca_file) if self.ca_file else None)
        # A short timeout until logged in: a port/security mismatch (STARTTLS on 993) just
        # waits for the other side, and should fail fast with a hint.
        timeout = min(config.timeout, servers.CONNECT_TIMEOUT)
        box: BaseMailBox
        if config.security == "ssl":
            box = MailBox(config.host, config.port, timeout=timeout, ssl_context=context)
        elif config.security == "starttls":
            box = MailBoxStartTls(config.host, config.port, timeout=timeout,
                                  ssl_context=context)
        else:
            box = MailBoxUnencrypted(config.host, config.port, timeout=timeout)
        try:
            box.login(config.user, config.password(), initial_folder=None)
            box.client.sock.settimeout(config.timeout)
            _refresh_capabilities(box.client)  # servers add MOVE, UIDPLUS... after login
            self._send_id(box)
        except BaseException:
            with contextlib.suppress(Exception):
                box.client.shutdown()
            raise
        return box

    def open(self) -> None:
        """Connect, log in and select the folder now (``safetymonth check``)."""
        self._connect()

    def _send_id(self, box: BaseMailBox) -> None:
        """IMAP ID (RFC 2971) between LOGIN and SELECT: 163.com/126.com demand it."""
        if "ID" not in box.client.capabilities:
            return
        fields = " ".join(f"{_quote(k)} {_quote(v)}" for k, v in self.config.client_id.items())
        typ, data = box.client._simple_command("ID", f"({fields})")
        box.client._untagged_response(typ, data, "ID")  # consumes the server's ID answer

    def close(self) -> None:
        box, self.box = self.box, None
        if box is None:
            return
        with contextlib.suppress(Exception):  # a dead connection has nothing left to close
            box.logout()

    def _client(self) -> imaplib.IMAP4:
        return self._connect().client

    # --- listing and fetching -------------------------------------------------------------

    def pending(self, cursor: str | None) -> list[Item]:
        client = self._client()
        client.noop()  # picks up new messages on a long-lived connection
        last = self._last_uid(cursor)
        criteria = f"UID {last + 1}:*"
        if self.config.processed.action == "keyword":
            criteria += f" UNKEYWORD {self.config.processed.keyword}"
        typ, data = client.uid("SEARCH", criteria)
        _check(typ, data, "SEARCH")
        uids = sorted(int(uid) for uid in b" ".join(data or [b""]).split() if int(uid) > last)
        sizes = self._sizes(uids)
        return [Item(self._key(uid), sizes.get(uid)) for uid in uids]

    def _last_uid(self, cursor: str | None) -> int:
        """The last UID recorded, from the cursor ``UIDVALIDITY:UID``; 0 when the folder
        was renumbered since (or the cursor is not ours)."""
        validity, _, last = (cursor or "").partition(":")
        if not (validity.isdigit() and last.isdigit()):
            return 0
        if int(validity) != self.uidvalidity:
            log.warning("%s: UIDVALIDITY changed from %s to %s; rescanning the folder "
                        "(known messages are recognised by Message-ID and hash)",
                        self.name, validity, self.uidvalidity)
            return 0
        return int(last)

    def _sizes(self, uids: list[int]) -> dict[int, int]:
        sizes: dict[int, int] = {}
        for start in range(0, len(uids), 500):
            chunk = ",".join(str(uid) for uid in uids[start:start + 500])
            typ, data = self._client().uid("FETCH", chunk, "(UID RFC822.SIZE)")
            _check(typ, data, "FETCH")
            for line in data:
                text = line[0] if isinstance(line, tuple) else line
                uid, size = UID.search(text or b""), SIZE.search(text or b"")
                if uid and size:
                    sizes[int(uid.group(1))] = int(size.group(1))
        return sizes

    def _key(self, uid: int) -> str:
        return f"{self.name};UIDVALIDITY={self.uidvalidity};UID={uid}"

    def uid_of(self, item: Item) -> int:
        return int(item.key.rsplit("UID=", 1)[1])

    def fetch(self, items: list[Item]) -> Iterator[tuple[Item, bytes]]:
        for batch in _batches(items):
            by_uid = {self.uid_of(item): item for item in batch}
            for uid, data in self._fetch_bodies(list(by_uid), "BODY.PEEK[]"):
                if uid in by_uid:
                    yield by_uid[uid], data

    def fetch_header(self, item: Item) -> bytes:
        for _, data in self._fetch_bodies([self.uid_of(item)], "BODY.PEEK[HEADER]"):
            return data
        return b""

    def _fetch_bodies(self, uids: list[int], part: str) -> Iterator[tuple[int, bytes]]:
        typ, data = self._client().uid("FETCH", ",".join(map(str, uids)), f"(UID {part})")
        _check(typ, data, "FETCH")
        for index, line in enumerate(data):
            if not isinstance(line, tuple):
                continue  # unsolicited FLAGS updates, closing parentheses
            found = UID.search(line[0])
            if found is None and index + 1 < len(data) and isinstance(data[index + 1], bytes):
                found = UID.search(data[index + 1])  # some servers send UID after the body
            if found is not None:
                yield int(found.group(1)), line[1]

    # --- after the commit -----------------------------------------------------------------

    def mark(self, items: list[Item]) -> None:
        if not items:
            return
        client = self._client()
        uids = ",".join(str(self.uid_of(item)) for item in items)
        action = self.config.processed
        if action.action == "seen":
            _check(*client.uid("STORE", uids, "+FLAGS.SILENT", r"(\Seen)"), "STORE")
        elif action.action == "keyword":
            _check(*client.uid("STORE", uids, "+FLAGS.SILENT", f"({action.keyword})"), "STORE")
        else:
            self._move(client, uids, action.folder)

    def _move(self, client: imaplib.IMAP4, uids: str, folder: str) -> None:
        target = encode_folder(folder)
        client._simple_command("CREATE", target)  # "already exists" is fine
        if "MOVE" in client.capabilities:
            _check(*client.uid("MOVE", uids, target), "MOVE")
            return
        _check(*client.uid("COPY", uids, target), "COPY")
        _check(*client.uid("STORE", uids, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
        if "UIDPLUS" in client.capabilities:  # expunge only our own UIDs
            _check(*client.uid("EXPUNGE", uids), "EXPUNGE")
        elif not self.warned_no_expunge:
            # A plain EXPUNGE would also remove what other clients flagged \Deleted.
            log.warning("%s: the server has neither MOVE nor UIDPLUS; processed messages are "
                        "copied to %s and left flagged \\Deleted in %s for a mail client to "
                        "expunge", self.name, folder, self.config.folder)
            self.warned_no_expunge = True

    def advance(self, cursor: str | None, items: list[Item]) -> str | None:
        if not items:
            return cursor
        return f"{self.uidvalidity}:{max(self.uid_of(item) for item in items)}"

    def waiting(self, seconds: float) -> str:
        return "IDLE" if self._idles() else f"every {seconds:g} s"

    def _idles(self) -> bool:
        return self.config.idle and "IDLE" in self._connect().client.capabilities

    def wait(self, seconds: float, stop: Event) -> bool:
        """IDLE until the server reports a change (True), ``seconds`` pass or ``stop`` is
        set (False)."""
        if not self._idles():
            stop.wait(seconds)
            return False
        box = self._connect()
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            responses = box.idle.wait(timeout=min(IDLE_SLICE, remaining))
            if any(b"EXISTS" in line or b"EXPUNGE" in line for line in responses):
                return True
        return False


def _refresh_capabilities(client: imaplib.IMAP4) -> None:
    typ, data = client.capability()
    if typ == "OK" and data and data[-1]:
        client.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())


def _uidvalidity(box: BaseMailBox) -> int:
    _, data = box.client.response("UIDVALIDITY")
    if data and data[0]:
        return int(data[0])
    return int(box.folder.status(None, ["UIDVALIDITY"])["UIDVALIDITY"])


def _batches(items: list[Item]) -> Iterator[list[Item]]:
    batch: list[Item] = []
    size = 0
    for item in items:
        if batch and (size + (item.size or 0) > BATCH_BYTES or len(batch) >= BATCH_COUNT):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item.size or 0
    if batch:
        yield batch


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(typ: str, data: object, command: str) -> None:
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{command} failed: {data!r}")
