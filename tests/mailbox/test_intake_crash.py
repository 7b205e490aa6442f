"""Crash safety: the poller killed with SIGKILL at random points, over and over, then restarted,
reading a Maildir and a real Dovecot.

At the end each of the 200 messages has exactly one record, every stored attachment is
byte-identical to what was sent, no message got two replies, and every message is marked
processed on its source.
"""

from __future__ import annotations

import email
import hashlib
import os
import random
import signal
import subprocess
import time
from collections import Counter
from email import policy
from pathlib import Path

import pytest

from safetymonth.mailbox.samplemail import Media
from safetymonth.storage.repository import PROCESSED
from tests.support.mailservers import PASSWORD, Dovecot, drop, open_store, write_config
from tests.support.pollers import MESSAGES, build_messages, poller

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

PASSWORD_ENV = "SAFETYMONTH_TEST_IMAP_PASSWORD"

KILLS = 20


def unmarked(source: str, tmp_path: Path, server: Dovecot | None, user: str) -> int:
    """How many messages the source still holds as not processed."""
    if server is None:
        return len(os.listdir(tmp_path / "inbox" / "new"))
    with server.client(user) as box:
        return sum("\\Seen" not in m.flags
                   for m in box.fetch(mark_seen=False, headers_only=True))


@pytest.mark.slow  # among the heaviest of the fast loop (--durations)
@pytest.mark.parametrize("source", ["maildir", pytest.param("imap", marks=pytest.mark.dovecot)])
def test_kill_minus_nine_at_random_points(tmp_path: Path, mail_media: Media, source: str,
                                          request: pytest.FixtureRequest,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Kills count as tries (a message that kills the process must fail in the end), so the
    # test allows more tries than it makes kills.
    mailbox: dict[str, object] = {"max_tries": KILLS + 5,
                                  "reply_rate_limit": {"count": 1000, "hours": 1}}
    messages, expected = build_messages(mail_media)
    server: Dovecot | None = None
    user = ""
    if source == "imap":
        server = request.getfixturevalue("dovecot_server")
        user = request.getfixturevalue("imap_user")
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)  # inherited by the poller processes
        mailbox["source"] = {"imap": {"host": "127.0.0.1", "port": server.port,
                                      "security": "none", "user": user,
                                      "password_env": PASSWORD_ENV}}
        for raw in messages:
            server.append(user, raw)
    else:
        for index, raw in enumerate(messages):
            drop(tmp_path / "inbox", f"{index:04d}.eml", raw)
    config = write_config(tmp_path, mailbox=mailbox)
    rng = random.Random(4)
    kills = 0
    while kills < KILLS:
        process = poller(config, stderr=subprocess.PIPE)
        # The poller logs one line per message and per reply sent: wait for a random number
        # of them, then a random fraction of the next one, so kills land in every phase
        # (fetch, store, validate, commit, mark, deliver) rather than during start-up.
        assert process.stderr is not None
        for _ in range(rng.randint(0, 25)):
            if not process.stderr.readline():
                break
        time.sleep(rng.uniform(0, 0.006))
        if process.poll() is not None:
            break  # it finished everything before we could kill it
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()
        kills += 1
    assert kills >= KILLS, f"only {kills} kills: the poller finished too early"
    final = poller(config)
    assert final.wait(timeout=120) == 0

    with open_store(tmp_path) as store:
        rows = store.messages()
        assert len(rows) == MESSAGES
        assert {row.state for row in rows} == {PROCESSED}
        assert {row.message_id for row in rows} == set(expected)
        for row in rows:
            attachments = store.attachments(row.id)
            assert {a.sha256 for a in attachments} == expected[row.message_id]
            for attachment in attachments:
                data = store.path(attachment.stored_name).read_bytes()
                assert hashlib.sha256(data).hexdigest() == attachment.sha256
            assert hashlib.sha256(store.raw_path(row.sha256).read_bytes()).hexdigest() \
                == row.sha256
        assert len(store.replies()) == MESSAGES
        assert {row.state for row in store.replies()} == {"sent"}
        # What each reply answers, by its own Message-ID (a reply to an unregistered sender
        # quotes nothing of its message, not even its Message-ID as In-Reply-To).
        message_ids = {row.id: row.message_id for row in rows}
        answers = {reply.headers["Message-ID"]: message_ids[reply.message]
                   for reply in store.replies() if reply.message is not None}

    delivered = [email.message_from_bytes(path.read_bytes(), policy=policy.default)
                 for path in (tmp_path / "outbox" / "new").iterdir()]
    answered = Counter(answers[str(message["Message-ID"])] for message in delivered)
    assert len(delivered) == MESSAGES and set(answered) == set(expected)
    assert max(answered.values()) == 1
    assert unmarked(source, tmp_path, server, user) == 0
