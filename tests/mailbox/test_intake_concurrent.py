"""Several processes on one mailbox and one store, exactly once: three ``poll --once`` at the
same time over 200 messages on a real Dovecot, replies through a real SMTP server (aiosmtpd),
one poller killed with SIGKILL in the middle, then a final poll; and one watcher per source.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import email
import os
import select
import signal
import subprocess
import time
from collections import Counter
from email import policy
from pathlib import Path

import pytest

from safetymonth.mailbox.samplemail import Media
from safetymonth.storage.repository import PROCESSED
from tests.support.mailservers import PASSWORD, Dovecot, SmtpServer, open_store, write_config
from tests.support.pollers import MESSAGES, build_messages, poll_command, poller

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

PASSWORD_ENV = "SAFETYMONTH_TEST_IMAP_PASSWORD"


def shared_config(tmp_path: Path, server: Dovecot, user: str, smtp: SmtpServer,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)  # inherited by the poller processes
    return write_config(tmp_path, mailbox={
        "source": {"imap": {"host": "127.0.0.1", "port": server.port, "security": "none",
                            "user": user, "password_env": PASSWORD_ENV}},
        "outbox": {"smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                            "timeout": 10}},
        "reply_rate_limit": {"count": 1000, "hours": 1}, "poll_interval": 1})


def wait_for_line(process: subprocess.Popen[bytes], text: str, timeout: float = 60) -> None:
    """Read the process's stderr until a line holds ``text``."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if ready:
            line = process.stderr.readline().decode()
            if text in line:
                return
            seen.append(line)
        assert process.poll() is None, seen
    pytest.fail(f"no line with {text!r}: {seen}")


def test_three_pollers_one_killed_give_each_message_one_record_and_one_reply(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, smtp_server: SmtpServer,
        mail_media: Media, monkeypatch: pytest.MonkeyPatch) -> None:
    messages, expected = build_messages(mail_media)
    for raw in messages:
        dovecot_server.append(imap_user, raw)
    config = shared_config(tmp_path, dovecot_server, imap_user, smtp_server, monkeypatch)

    pollers = [poller(config, stderr=subprocess.PIPE) for _ in range(3)]
    victim = pollers[0]
    assert victim.stderr is not None
    for _ in range(40):  # well into its run: messages recorded, some processed
        if not victim.stderr.readline():
            break
    assert victim.poll() is None, "the poller finished before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    victim.stderr.close()
    for process in pollers[1:]:
        assert process.stderr is not None
        log = process.stderr.read()  # drain, so a chatty poller never blocks on a full pipe
        assert process.wait(timeout=300) == 0, log.decode(errors="replace")[-3000:]
        process.stderr.close()
    assert poller(config).wait(timeout=300) == 0  # the final poll takes what the victim held

    with open_store(tmp_path) as store:
        records = store.messages()
        assert len(records) == MESSAGES  # one record per message, never two
        assert {record.message_id for record in records} == set(expected)
        assert {record.state for record in records} == {PROCESSED}, \
            [(record.state, record.last_error) for record in records if record.state != PROCESSED]
        tries = Counter(record.tries for record in records)
        # Processed once each; only the message the victim was working on when it died
        # was taken up again, by the final poll.
        assert set(tries) <= {1, 2} and tries[2] <= 1, tries
        for record in records:
            assert {a.sha256 for a in store.attachments(record.id)} == \
                expected[record.message_id]
        replies = store.replies()
        assert len(replies) == MESSAGES and {reply.state for reply in replies} == {"sent"}
        reply_ids = {f"<{reply.id}@mzj.example.gov.cn>" for reply in replies}

    delivered = Counter(
        email.message_from_bytes(data, policy=policy.default)["Message-ID"]
        for _, _, data in smtp_server.recorder.messages)
    assert set(delivered) == reply_ids
    # Each reply delivered once; at most one delivered twice, with the same Message-ID: the
    # one whose sender was killed between the SMTP server's answer and the commit.
    assert sum(delivered.values()) - MESSAGES <= 1 and max(delivered.values()) <= 2, \
        [item for item in delivered.items() if item[1] > 1]
    with dovecot_server.client(imap_user) as box:
        assert all("\\Seen" in message.flags
                   for message in box.fetch(mark_seen=False, headers_only=True))


def test_a_second_watcher_on_the_same_source_is_refused_in_one_line(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, smtp_server: SmtpServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = shared_config(tmp_path, dovecot_server, imap_user, smtp_server, monkeypatch)
    first = poller(config, stderr=subprocess.PIPE, once=False)
    try:
        assert first.stderr is not None
        label = f"imap://{imap_user}@127.0.0.1:{dovecot_server.port}/INBOX"
        wait_for_line(first, f"watching {label} (IDLE)")  # the start-up line
        second = subprocess.run(poll_command(config, once=False), capture_output=True,
                                timeout=60)
        assert second.returncode == 1
        lines = second.stderr.decode().strip().splitlines()
        assert lines[-1] == (f"safetymonth: another poll (pid {first.pid} on "
                             f"{os.uname().nodename}) is watching {label}"), lines
        # A poll --once beside the watcher does its work through the claims.
        once = subprocess.run(poll_command(config), capture_output=True, timeout=60)
        assert once.returncode == 0, once.stderr.decode()[-2000:]
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)

