"""The IMAP source against a real Dovecot: ID, incremental UIDs, UIDVALIDITY, processed actions,
size limit, SSL/STARTTLS and IDLE."""

from __future__ import annotations

import email
import email.message
import email.policy
import re
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from safetymonth.cli import main
from safetymonth.config import Config, Policy
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.imap import ImapMailbox
from safetymonth.mailbox.intake import Intake
from safetymonth.mailbox.samplemail import Media
from safetymonth.mailbox.servers import ServerUnavailable
from safetymonth.mailbox.service import poll_once
from safetymonth.storage.repository import PROCESSED, TOO_LARGE, open_repository
from safetymonth.validator import Verdict, check_file
from tests.support.mailservers import PASSWORD, Dovecot, free_port
from tests.support.watching import PASSWORD_ENV, imap_config, wait_for, watching

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def submission(index: int, media: Media) -> bytes:
    parts = [samplemail.text_part(f"第{index}封"),
             samplemail.file_part(media.photo, samplemail.utf8_name(f"照片{index}.jpg"),
                                  "image/jpeg")]
    return samplemail.message("fuli@dhmz.example.cn", f"材料{index}", parts,
                              message_id=f"<imap-{index}-{time.time_ns()}@dhmz>")


class FetchSpy:
    """Counts the UIDs whose bodies the source downloads from the real server."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.uids: list[int] = []
        original = ImapMailbox._fetch_bodies

        def spy(source: ImapMailbox, uids: list[int], part: str):  # type: ignore[no-untyped-def]
            if part == "BODY.PEEK[]":
                self.uids.extend(uids)
            return original(source, uids, part)

        monkeypatch.setattr(ImapMailbox, "_fetch_bodies", spy)


def flags(server: Dovecot, user: str, folder: str = "INBOX") -> dict[int, set[str]]:
    with server.client(user, folder) as box:
        # \Recent belongs to whichever session looks first: not ours to test.
        return {int(m.uid or 0): set(m.flags) - {"\\Recent"}
                for m in box.fetch(mark_seen=False, headers_only=True)}


def test_id_is_sent_and_polling_is_incremental(tmp_path: Path, dovecot_server: Dovecot,
                                               imap_user: str, mail_media: Media,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    spy = FetchSpy(monkeypatch)
    config = imap_config(tmp_path, dovecot_server, imap_user)
    dovecot_server.append(imap_user, submission(1, mail_media))
    dovecot_server.append(imap_user, submission(2, mail_media))
    assert poll_once(config).processed == 2
    assert spy.uids == [1, 2]
    assert flags(dovecot_server, imap_user) == {1: {"\\Seen"}, 2: {"\\Seen"}}

    # A message a person already read in webmail is still new to us: UIDs, not \Seen.
    with dovecot_server.client(imap_user) as box:
        box.append(submission(3, mail_media), "INBOX", flag_set=["\\Seen"])
    assert poll_once(config).processed == 1
    assert spy.uids == [1, 2, 3]  # 1 and 2 were not downloaded again
    assert poll_once(config).processed == 0
    assert spy.uids == [1, 2, 3]
    with open_repository(config) as store:
        assert len(store.messages()) == 3 and len(store.replies()) == 3

    log = dovecot_server.log()
    assert re.search(rf"imap\({imap_user}\).*ID sent: name=safetymonth, version=0\.1\.0", log) \
        or re.search(r"ID sent: name=safetymonth, version=0\.1\.0", log), log[-2000:]


def test_uidvalidity_change_rescans_without_processing_twice(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, mail_media: Media,
        monkeypatch: pytest.MonkeyPatch) -> None:
    spy = FetchSpy(monkeypatch)
    config = imap_config(tmp_path, dovecot_server, imap_user)
    for index in (1, 2):
        dovecot_server.append(imap_user, submission(index, mail_media))
    poll_once(config)
    source = f"imap:{imap_user}@127.0.0.1/INBOX"
    with open_repository(config) as store:
        old_validity = (store.source_cursor(source) or "").split(":")[0]
        assert old_validity.isdigit()
    # The server renumbers the folder (a restore, a migration): new UIDVALIDITY.
    maildir = dovecot_server.maildir(imap_user)
    for index_file in maildir.glob("dovecot*"):
        index_file.unlink()
    time.sleep(1.1)  # Dovecot takes the new UIDVALIDITY from the clock
    dovecot_server.append(imap_user, submission(3, mail_media))
    stats = poll_once(config)
    assert (stats.processed, stats.duplicates) == (1, 2)
    assert len(spy.uids) == 2 + 3  # everything was fetched again once
    with open_repository(config) as store:
        assert len(store.messages()) == 3 and len(store.replies()) == 3
        validity = (store.source_cursor(source) or "").split(":")[0]
        assert validity.isdigit() and validity != old_validity
        assert sum(len(store.source_keys(m.id)) for m in store.messages()) == 5


@pytest.mark.parametrize("action", ["seen", "keyword", "move"])
def test_processed_action_never_expunges_other_clients_messages(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, mail_media: Media,
        action: str) -> None:
    config = imap_config(tmp_path, dovecot_server, imap_user,
                         processed={"action": action, "keyword": "SafetymonthDone",
                                    "folder": "已处理"},
                         mailbox={"max_message_size": 100_000})
    dovecot_server.append(imap_user, submission(1, mail_media))
    # Another client flagged a (too large, so unprocessed) message \Deleted, not expunged.
    big = samplemail.message("x@y.cn", "big", [samplemail.text_part("x" * 200_000)])
    with dovecot_server.client(imap_user) as box:
        box.append(big, "INBOX", flag_set=["\\Deleted"])
    stats = poll_once(config)
    assert (stats.processed, stats.too_large) == (1, 1)
    inbox = flags(dovecot_server, imap_user)
    assert inbox[2] == {"\\Deleted"}  # still there, untouched
    if action == "seen":
        assert inbox[1] == {"\\Seen"}
    elif action == "keyword":
        assert inbox[1] == {"SafetymonthDone"}  # not even \Seen: a person still sees it new
    else:
        assert 1 not in inbox
        assert list(flags(dovecot_server, imap_user, "已处理").values()) == [set()]
    with open_repository(config) as store:
        states = sorted(row.state for row in store.messages())
    assert states == [PROCESSED, TOO_LARGE]


def test_too_large_is_recorded_from_its_header_and_never_downloaded(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    spy = FetchSpy(monkeypatch)
    config = imap_config(tmp_path, dovecot_server, imap_user,
                         mailbox={"max_message_size": 50_000})
    big = samplemail.message("fuli@dhmz.example.cn", "大视频",
                             [samplemail.file_part(b"\0" * 80_000, b'filename="v.mp4"')])
    dovecot_server.append(imap_user, big)
    assert poll_once(config).too_large == 1
    assert spy.uids == []
    with open_repository(config) as store:
        [row] = store.messages()
        assert row.state == TOO_LARGE and row.sender == "fuli@dhmz.example.cn"
        assert "max_message_size" in row.last_error
    assert flags(dovecot_server, imap_user) == {1: set()}  # left unread for a person
    assert poll_once(config).too_large == 0  # recorded once


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_ssl_and_starttls(tmp_path: Path, dovecot_server: Dovecot, imap_user: str,
                          mail_media: Media, security: str) -> None:
    port = dovecot_server.ssl_port if security == "ssl" else dovecot_server.port
    config = imap_config(tmp_path, dovecot_server, imap_user, security=security, port=port,
                         ca_file=str(dovecot_server.cert))
    dovecot_server.append(imap_user, submission(1, mail_media))
    assert poll_once(config).processed == 1


def test_ssl_refuses_an_untrusted_certificate(tmp_path: Path, dovecot_server: Dovecot,
                                              imap_user: str) -> None:
    config = imap_config(tmp_path, dovecot_server, imap_user, security="ssl",
                         port=dovecot_server.ssl_port)
    with pytest.raises(ServerUnavailable, match="CERTIFICATE_VERIFY_FAILED") as failure:
        poll_once(config)
    # The error names the server and what to check, as SMTP errors do.
    assert f"IMAP 127.0.0.1:{dovecot_server.ssl_port} (ssl)" in str(failure.value)
    assert "set ca_file" in str(failure.value)


def processed(config: Config) -> int:
    with open_repository(config) as store:
        return len([m for m in store.messages() if m.state == PROCESSED])


def test_idle_wakes_the_watcher_and_it_reconnects_after_a_kick(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, mail_media: Media) -> None:
    # A poll interval far longer than the test: only IDLE can bring the new mail in.
    config = imap_config(tmp_path, dovecot_server, imap_user,
                         mailbox={"poll_interval": 3600})
    with watching(config):
        time.sleep(0.5)
        dovecot_server.append(imap_user, submission(1, mail_media))
        started = time.monotonic()
        assert wait_for(lambda: processed(config) == 1)
        assert time.monotonic() - started < 3.0
        # The server drops the connection; the watcher reconnects and carries on.
        subprocess.run(["doveadm", "-c", str(dovecot_server.root / "dovecot.conf"), "kick",
                        imap_user], check=True, capture_output=True)
        time.sleep(0.5)
        dovecot_server.append(imap_user, submission(2, mail_media))
        assert wait_for(lambda: processed(config) == 2, timeout=20)


def test_too_large_sender_is_told_and_a_raised_limit_takes_the_message_whole(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, mail_media: Media) -> None:
    big = samplemail.message(
        "fuli@dhmz.example.cn", "大照片",
        [samplemail.file_part(mail_media.photo, samplemail.utf8_name("现场.jpg"), "image/jpeg")],
        message_id="<big-1@dhmz>")
    dovecot_server.append(imap_user, big)
    small_limit = imap_config(tmp_path, dovecot_server, imap_user,
                              mailbox={"max_message_size": 10_000,
                                       "outbox": f"maildir:{tmp_path / 'outbox'}"})
    assert poll_once(small_limit).too_large == 1
    [told] = read_outbox(tmp_path / "outbox")
    text = told.get_body(("plain",)).get_content()
    assert "超过收件箱单封邮件" in text and "9.8KB" in text and "均未收到" in text
    assert told["To"] == "fuli@dhmz.example.cn"

    # The clerk raises the limit: the same message is now downloaded, checked and answered.
    raised = small_limit.model_copy(update={"mailbox": small_limit.mailbox.model_copy(
        update={"max_message_size": 10_000_000})})
    assert poll_once(raised).processed == 1
    with open_repository(raised) as store:
        [row] = store.messages()
        assert row.state == PROCESSED and row.unit == "德化县社会福利中心"
        assert [a.name for a in store.attachments(row.id)] == ["现场.jpg"]
    assert flags(dovecot_server, imap_user) == {1: {"\\Seen"}}
    replies = read_outbox(tmp_path / "outbox")
    assert len(replies) == 2
    assert any("现场.jpg" in r.get_body(("plain",)).get_content() for r in replies)


def read_outbox(folder: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(folder.glob("*/*")) if path.is_file()]


def test_a_message_that_failed_once_is_marked_after_its_retry(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, mail_media: Media) -> None:
    # Our own code failing on a message (a fault no real server produces: the only mock
    # here) must not let the incremental window pass it by: once a later run processes
    # it, it is marked on the server like any other.
    config = imap_config(tmp_path, dovecot_server, imap_user)
    dovecot_server.append(imap_user, submission(1, mail_media))
    dovecot_server.append(imap_user, submission(2, mail_media))
    calls: list[str | None] = []

    def flaky(path: Path, policy: Policy, name: str | None = None) -> list[Verdict]:
        calls.append(name)
        if len(calls) == 1:
            raise RuntimeError("checker bug")
        return check_file(path, policy, name)

    with open_repository(config) as store:
        source = ImapMailbox(config.mailbox.source)  # type: ignore[arg-type]
        try:
            first = Intake(config, store, checker=flaky).run(source)
            assert (first.processed, first.states.get("received")) == (1, 1)
            assert flags(dovecot_server, imap_user) == {1: set(), 2: {"\\Seen"}}
            second = Intake(config, store, checker=flaky).run(source)
        finally:
            source.close()
        assert second.processed == 1
        assert {row.state for row in store.messages()} == {PROCESSED}
    assert flags(dovecot_server, imap_user) == {1: {"\\Seen"}, 2: {"\\Seen"}}


def test_the_watcher_retries_a_refused_login_until_it_succeeds(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, mail_media: Media,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # 163.com answers a login it dislikes with NO ("Unsafe Login") for a while: the
    # watcher must wait and try again (up to three times in a row), not die at once.
    monkeypatch.setenv(PASSWORD_ENV, "wrong-password")
    config = imap_config(tmp_path, dovecot_server, imap_user, mailbox={"poll_interval": 1})
    dovecot_server.append(imap_user, submission(1, mail_media))
    with watching(config) as watcher:
        assert wait_for(lambda: "reconnecting" in caplog.text, timeout=10)
        assert watcher.is_alive() and processed(config) == 0
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        assert wait_for(lambda: processed(config) == 1, timeout=20)
    assert "wrong-password" not in caplog.text


def test_hostile_messages_over_imap_are_recorded_marked_and_answered_as_due(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str, mail_media: Media) -> None:
    from tests.support.hostile_mail import HOSTILE, MACHINE

    messages = {name: build(mail_media.photo) for name, build in HOSTILE.items()}
    messages.update(MACHINE)
    messages["big-bug"] = samplemail.message("Big Bug bb@bug.com", "x",
                                             [samplemail.text_part("hi")])
    for raw in messages.values():
        dovecot_server.append(imap_user, raw)
    config = imap_config(tmp_path, dovecot_server, imap_user)
    poll_once(config)
    with open_repository(config) as store:
        rows = store.messages()
        replied = {reply.message for reply in store.replies()}
        stored = {store.raw_path(row.sha256).read_bytes() for row in rows}
    assert len(rows) == len(messages) and {row.state for row in rows} == {PROCESSED}
    # Byte-identical to what the server holds: Dovecot stores a NUL as 0x80 (IMAP allows no
    # NUL in a literal), so over IMAP the NUL cases arrive as 8-bit bytes in a charset name.
    assert stored == {raw.replace(b"\x00", b"\x80") for raw in messages.values()}
    # A reply for each unit submission, none for the machines or the unusable From.
    assert len(replied) == len(HOSTILE)
    marked = flags(dovecot_server, imap_user)
    assert len(marked) == len(messages) and all("\\Seen" in marks for marks in marked.values())


def _poll_once_cli(config_path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config_path), "poll", "--once"])
    return result.exit_code, result.stderr.strip().splitlines()[-1]


def test_imap_errors_name_the_server_and_what_to_check(
        tmp_path: Path, dovecot_server: Dovecot, imap_user: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    closed = free_port()
    imap_config(tmp_path, dovecot_server, imap_user, port=closed)
    code, line = _poll_once_cli(tmp_path / "config.yaml")
    assert code == 1
    assert line == (f"safetymonth: mail server: IMAP 127.0.0.1:{closed} (none): Connection "
                    "refused; nothing listens there: check host and port")

    # STARTTLS on the SSL port: both sides wait for the other. The connection timeout (not
    # the 60 s session timeout) ends it, with the hint.
    imap_config(tmp_path, dovecot_server, imap_user, port=dovecot_server.ssl_port,
                security="starttls", timeout=60)
    code, line = _poll_once_cli(tmp_path / "config.yaml")
    assert code == 1
    assert f"IMAP 127.0.0.1:{dovecot_server.ssl_port} (starttls): timed out" in line
    assert "port and security may not match" in line

    monkeypatch.setenv(PASSWORD_ENV, "the-web-password")
    imap_config(tmp_path, dovecot_server, imap_user)
    code, line = _poll_once_cli(tmp_path / "config.yaml")
    assert code == 1
    assert f"IMAP 127.0.0.1:{dovecot_server.port} (none) refused the login of {imap_user}" \
        in line
    assert "授权码" in line and PASSWORD_ENV in line and "the-web-password" not in line
