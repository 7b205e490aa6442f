"""A big ``poll --once`` is shared between two processes (issue 23 part 3): with the threshold
lowered through its environment variable, the backlog of a Maildir and of a real Dovecot is
dealt out, a few messages at a time, to the poll and a second process it starts, both taking
part; each message is recorded, processed and credited once and answered once; a worker
killed mid-run makes the poll exit 1, the poll takes the rest, and the next poll takes what the
worker held; a mail server that goes away under them makes the poll exit 1. On SQLite and on
PostgreSQL."""

from __future__ import annotations

import email
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from safetymonth.config import load_config
from safetymonth.mailbox.samplemail import Media
from safetymonth.storage.repository import PROCESSED
from tests.support.cli_runs import as_json
from tests.support.mailservers import (
    PASSWORD,
    Dovecot,
    drop,
    open_store,
    write_config,
)
from tests.support.pollers import SENDERS, build_messages, poll_command, poller

pytestmark = [pytest.mark.usefixtures("on_both_engines"), pytest.mark.slow]

SPLIT_AT_ENV = "SAFETYMONTH_POLL_SPLIT_AT"  # the hidden threshold: not a config key
SPLIT_AT = 10
PASSWORD_ENV = "SAFETYMONTH_TEST_IMAP_PASSWORD"
JOINS = re.compile(r"poll worker pid (\d+) takes part")
FINISHED = re.compile(r"poll worker pid (\d+): processed (\d+), ")


def imap_config(tmp_path: Path, port: int, user: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)  # inherited by the poll and its workers
    return write_config(tmp_path, mailbox={
        "source": {"imap": {"host": "127.0.0.1", "port": port, "security": "none",
                            "user": user, "password_env": PASSWORD_ENV}},
        "reply_rate_limit": {"count": 1000, "hours": 1}})


def workers_in(log: str) -> tuple[list[int], dict[int, int]]:
    """The pids of the processes the poll started, and pid -> messages each process that
    finished (the poll's own included) processed."""
    joined = [int(pid) for pid in JOINS.findall(log)]
    finished = {int(pid): int(count) for pid, count in FINISHED.findall(log)}
    return joined, finished


def read_until(process: subprocess.Popen[bytes], done: object, timeout: float = 300) -> str:
    """The poll's stderr read line by line until ``done(text so far)`` holds."""
    assert process.stderr is not None
    text = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if ready:
            line = process.stderr.readline().decode()
            text += line
            if done(text):  # type: ignore[operator]
                return text
        assert process.poll() is None, text[-3000:]
    pytest.fail(f"the poll never got there: {text[-3000:]}")


def expected_credit(config: Path, senders: list[str]) -> dict[str, int]:
    """Messages per unit, from the registry of the config (an address or a whole domain)."""
    units = load_config(config).units
    credit: Counter[str] = Counter()
    for sender in senders:
        domain = "@" + sender.split("@")[1]
        unit = next((unit for unit in units if sender in unit.emails or domain in unit.emails),
                    None)
        if unit is not None:
            credit[unit.name] += 1
    return dict(credit)


def assert_once_each(tmp_path: Path, config: Path, expected: dict[str, set[str]],
                     senders: list[str], max_retaken: int = 0) -> None:
    """One record, one processing (a retaken message aside), one reply and one credit per
    message; the replies in the outbox answer each message once."""
    with open_store(tmp_path) as store:
        records = store.messages()
        assert sorted(record.message_id for record in records) == sorted(expected)
        assert {record.state for record in records} == {PROCESSED}, \
            [(record.state, record.last_error) for record in records if record.state != PROCESSED]
        tries = Counter(record.tries for record in records)
        assert set(tries) <= {1, 2} and tries[2] <= max_retaken, tries
        for record in records:
            assert {a.sha256 for a in store.attachments(record.id)} == \
                expected[record.message_id]
        replies = store.replies()
        assert {reply.state for reply in replies} == {"sent"}
        assert Counter(reply.message for reply in replies) == \
            Counter(record.id for record in records)  # one reply per message
        reply_ids = {f"<{reply.id}@mzj.example.gov.cn>" for reply in replies}
    delivered = Counter(email.message_from_bytes(path.read_bytes())["Message-ID"]
                        for path in (tmp_path / "outbox" / "new").iterdir())
    assert delivered == Counter(reply_ids)  # each reply went out exactly once
    report = as_json(config, "report")
    assert {unit["name"]: unit["submissions"] for unit in report["units"]
            if unit["submissions"]} == expected_credit(config, senders)


def shared_poll(config: Path, count: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """Poll ``count`` waiting messages with the threshold lowered: the poll starts one more
    process, and both process some of the messages, all of them between the two (each is
    dealt its own first few, however late it starts); the poll's log."""
    monkeypatch.setenv(SPLIT_AT_ENV, str(SPLIT_AT))
    process = poller(config, stderr=subprocess.PIPE)
    _, err = process.communicate(timeout=600)
    log = err.decode()
    assert process.returncode == 0, log[-3000:]
    joined, finished = workers_in(log)
    assert len(joined) == 1 and process.pid not in joined, log[-3000:]
    assert set(finished) == {process.pid, *joined}, log[-3000:]
    assert all(finished.values()) and sum(finished.values()) == count, finished
    return log


def test_a_maildir_backlog_over_the_threshold_is_shared_by_two_processes(
        tmp_path: Path, mail_media: Media, monkeypatch: pytest.MonkeyPatch) -> None:
    messages, expected = build_messages(mail_media)
    count = 2 * SPLIT_AT + 4
    config = write_config(tmp_path, mailbox={"reply_rate_limit": {"count": 1000, "hours": 1}})
    for index, raw in enumerate(messages[:count]):
        drop(tmp_path / "inbox", f"m{index:03d}", raw)
    expected = {key: value for key, value in list(expected.items())[:count]}
    log = shared_poll(config, count, monkeypatch)
    assert f"processed {count}, duplicates 0, failed 0, too large 0" in log

    assert not list((tmp_path / "inbox" / "new").iterdir())
    assert len(list((tmp_path / "inbox" / "cur").iterdir())) == count
    assert_once_each(tmp_path, config, expected, [SENDERS[i % len(SENDERS)]
                                                  for i in range(count)])


def test_an_imap_backlog_is_shared_marked_seen_and_the_cursor_moved_past_it(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, mail_media: Media,
        monkeypatch: pytest.MonkeyPatch) -> None:
    messages, expected = build_messages(mail_media)
    count = 2 * SPLIT_AT + 6
    for raw in messages[:count]:
        dovecot_server.append(imap_user, raw)
    expected = {key: value for key, value in list(expected.items())[:count]}
    config = imap_config(tmp_path, dovecot_server.port, imap_user, monkeypatch)
    shared_poll(config, count, monkeypatch)

    assert_once_each(tmp_path, config, expected, [SENDERS[i % len(SENDERS)]
                                                  for i in range(count)])
    with dovecot_server.client(imap_user) as box:
        assert all("\\Seen" in message.flags
                   for message in box.fetch(mark_seen=False, headers_only=True))
        uids = [int(uid) for uid in box.uids()]
        validity = box.folder.status("INBOX", ["UIDVALIDITY"])["UIDVALIDITY"]
    source = f"imap:{imap_user}@127.0.0.1/INBOX"
    with open_store(tmp_path) as store:  # the parent moved it once both workers were done
        assert store.source_cursor(source) == f"{validity}:{max(uids)}"


def test_a_killed_worker_fails_the_poll_and_the_next_poll_takes_its_messages(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, mail_media: Media,
        monkeypatch: pytest.MonkeyPatch) -> None:
    messages, expected = build_messages(mail_media)
    count = 4 * SPLIT_AT
    for raw in messages[:count]:
        dovecot_server.append(imap_user, raw)
    expected = {key: value for key, value in list(expected.items())[:count]}
    config = imap_config(tmp_path, dovecot_server.port, imap_user, monkeypatch)
    monkeypatch.setenv(SPLIT_AT_ENV, str(SPLIT_AT))

    process = poller(config, stderr=subprocess.PIPE)
    # The second process has started: it holds at least its first hand, unfinished.
    seen = read_until(process, lambda text: len(JOINS.findall(text)) == 1)
    victim = int(JOINS.findall(seen)[0])
    os.kill(victim, signal.SIGKILL)
    _, rest = process.communicate(timeout=600)
    log = seen + rest.decode()
    assert process.returncode == 1, log[-3000:]
    assert log.strip().splitlines()[-1] == (
        f"safetymonth: poll worker pid {victim} died (killed by signal 9); the next poll "
        "takes its messages"), log[-3000:]
    _, finished = workers_in(log)
    assert set(finished) == {process.pid}, log[-3000:]  # the poll itself took the rest
    with dovecot_server.client(imap_user) as box:  # what the victim held stays unmarked
        unseen = [message for message in box.fetch(mark_seen=False, headers_only=True)
                  if "\\Seen" not in message.flags]
    assert 0 < len(unseen) <= count - finished[process.pid]

    again = subprocess.run(poll_command(config), capture_output=True, timeout=600)
    assert again.returncode == 0, again.stderr.decode()[-3000:]
    # Only the message the victim was working on when it died is processed a second time.
    assert_once_each(tmp_path, config, expected, [SENDERS[i % len(SENDERS)]
                                                  for i in range(count)], max_retaken=1)
    with dovecot_server.client(imap_user) as box:
        assert all("\\Seen" in message.flags
                   for message in box.fetch(mark_seen=False, headers_only=True))


def test_a_mail_server_gone_under_the_workers_exits_1_in_one_line(
        tmp_path: Path, mail_media: Media, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(tempfile.mkdtemp(prefix="safetymonth-dovecot-"))
    root.chmod(0o755)  # the unprivileged mail user must reach the Maildirs
    server = Dovecot(root)
    server.start()
    try:
        user = server.add_user()
        messages, _ = build_messages(mail_media)
        for raw in messages[:4 * SPLIT_AT]:
            server.append(user, raw)
        config = imap_config(tmp_path, server.port, user, monkeypatch)
        monkeypatch.setenv(SPLIT_AT_ENV, str(SPLIT_AT))
        process = poller(config, stderr=subprocess.PIPE)
        seen = read_until(process, lambda text: len(JOINS.findall(text)) == 1)
        server.stop()  # the workers' fetch or mark finds the server gone
        _, rest = process.communicate(timeout=600)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    log = seen + rest.decode()
    assert process.returncode == 1, log[-3000:]
    last = log.strip().splitlines()[-1]
    assert last.startswith("safetymonth: mail server: ") and "127.0.0.1" in last, log[-3000:]
    assert "processed " not in last
