"""The IMAP source's config on the test Dovecot, and watch mode (``safetymonth poll``) run in a
thread: what the IMAP and watch-mode tests share."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from safetymonth.config import Config, load_config
from safetymonth.mailbox.service import watch
from tests.support.mailservers import Dovecot, write_config

PASSWORD_ENV = "SAFETYMONTH_TEST_IMAP_PASSWORD"  # holds mailservers.PASSWORD in these tests


def imap_config(tmp_path: Path, server: Dovecot, user: str, **imap: object) -> Config:
    """A config reading ``user``'s INBOX on the test Dovecot, plain IMAP unless ``imap``
    says otherwise; its ``mailbox`` key goes to the config's mailbox section."""
    extra = imap.pop("mailbox", {})
    block = {"host": "127.0.0.1", "port": server.port, "security": "none", "user": user,
             "password_env": PASSWORD_ENV, **imap}
    mailbox = {"source": {"imap": block}, **extra}  # type: ignore[dict-item]
    return load_config(write_config(tmp_path, mailbox=mailbox))


def wait_for(condition, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``condition()`` became true within ``timeout`` seconds (polled every 50 ms):
    watch mode works in its own thread, so the test waits for what it does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def watching(config: Config) -> Iterator[threading.Thread]:
    """``safetymonth poll`` (watch mode) in a thread, stopped as SIGTERM would stop it."""
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(config, stop), daemon=True)
    watcher.start()
    try:
        yield watcher
    finally:
        stop.set()
        watcher.join(timeout=15)
    assert not watcher.is_alive()
