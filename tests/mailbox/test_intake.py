"""The intake pipeline end to end on Maildir: records, verdicts, replies, idempotence, failures."""

from __future__ import annotations

import email
import hashlib
import json
import logging
import os
import socket
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from safetymonth.cli import main
from safetymonth.config import load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.intake import Intake
from safetymonth.mailbox.maildir import MaildirSource
from safetymonth.mailbox.samplemail import Media
from safetymonth.mailbox.service import poll_once
from safetymonth.storage.repository import FAILED, PROCESSED, open_repository
from safetymonth.validator import check_file
from tests.support.mailservers import drop, open_store, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL


def run_poll(config_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(config_path), "poll", "--once"])
    assert result.exit_code == 0, result.output


def outbox_messages(folder: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted((folder / "outbox" / "new").iterdir())]


def test_complete_submission_is_stored_checked_and_answered(tmp_path: Path,
                                                            mail_media: Media) -> None:
    config_path = write_config(tmp_path, campaign={"deadline": "2024-06-24"})
    raw = samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<a1@dhmz>")
    drop(tmp_path / "inbox", "m1.eml", raw)
    run_poll(config_path)

    with open_store(tmp_path) as store:
        [row] = store.messages()
        assert row.state == PROCESSED and row.unit == "德化县社会福利中心"
        # The raw message is kept byte-identical under its own hash.
        assert store.raw_path(row.sha256).read_bytes() == raw
        names = [a.name for a in store.attachments(row.id)]
        assert names == ["安全管理月活动总结.docx", "消防疏散演练.mp4", "消防演练现场.jpg"]
        for attachment, original in zip(store.attachments(row.id),
                                        [mail_media.document, mail_media.video,
                                         mail_media.photo], strict=True):
            stored = store.path(attachment.stored_name)
            assert stored.name == hashlib.sha256(original).hexdigest()
            assert stored.read_bytes() == original
            assert attachment.verdicts[0]["ok"] is True
    # Processed mail moves to cur/.
    assert os.listdir(tmp_path / "inbox" / "new") == []
    assert [n.split(":")[0] for n in os.listdir(tmp_path / "inbox" / "cur")] == ["m1.eml"]

    [reply] = outbox_messages(tmp_path)
    assert reply["To"] == "fuli@dhmz.example.cn"
    assert reply["From"].addresses[0].addr_spec == "aqgly@mzj.example.gov.cn"
    assert reply["In-Reply-To"] == "<a1@dhmz>"
    assert "<a1@dhmz>" in reply["References"]
    assert reply["Auto-Submitted"] == "auto-replied"
    text = reply.get_body(("plain",)).get_content()
    assert "德化县社会福利中心" in text and "消防演练现场.jpg" in text
    assert "均已齐全" in text and "2024年6月24日" in text
    assert reply.get_body(("html",)) is not None


def test_failing_photo_reply_names_the_fix_and_what_is_missing(tmp_path: Path,
                                                               mail_media: Media) -> None:
    config_path = write_config(tmp_path)
    drop(tmp_path / "inbox", "m1.eml", samplemail.failing_photo("xzjly@dhmz.example.cn",
                                                                mail_media))
    run_poll(config_path)
    [reply] = outbox_messages(tmp_path)
    text = reply.get_body(("plain",)).get_content()
    assert "微信压缩照片.jpg" in text and "不合格" in text
    assert "1280×960" in text and "原图" in text  # the validator's fix, quoted
    assert "还缺少：活动总结、视频、照片" in text


def test_reply_file_is_named_after_the_reply_id_and_a_rerun_sends_nothing(
        tmp_path: Path, mail_media: Media) -> None:
    config_path = write_config(tmp_path)
    raw = samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<a2@dhmz>")
    drop(tmp_path / "inbox", "m1.eml", raw)
    run_poll(config_path)
    run_poll(config_path)
    files = os.listdir(tmp_path / "outbox" / "new")
    with open_store(tmp_path) as store:
        [reply] = store.replies()
        assert files == [reply.id]
        assert reply.state == "sent" and reply.sent_at
        [message] = outbox_messages(tmp_path)
        assert message["Message-ID"] == f"<{reply.id}@mzj.example.gov.cn>"


def test_duplicate_delivery_is_one_record_and_one_reply(tmp_path: Path,
                                                        mail_media: Media) -> None:
    config_path = write_config(tmp_path)
    raw = samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<dup@dhmz>")
    drop(tmp_path / "inbox", "first.eml", raw)
    run_poll(config_path)
    # The same message again under another name, and a re-delivered copy (new bytes: the
    # trace fields of its second delivery), as a second folder or a server would bring it.
    drop(tmp_path / "inbox", "again.eml", raw)
    drop(tmp_path / "inbox", "resent.eml",
         b"Return-Path: <fuli@dhmz.example.cn>\r\nDelivered-To: aqgly@mzj.example.gov.cn\r\n"
         b"Received: from mx2.dhmz.example.cn\r\n\tby mx.mzj.example.gov.cn; "
         b"Mon, 17 Jun 2024 10:00:00 +0800\r\n" + raw)
    run_poll(config_path)
    with open_store(tmp_path) as store:
        [message] = store.messages()
        assert len(store.replies()) == 1
        keys = set(store.source_keys(message.id))
        assert keys == {"maildir:first.eml", "maildir:again.eml", "maildir:resent.eml"}
    assert len(os.listdir(tmp_path / "inbox" / "cur")) == 3


def test_a_reused_message_id_with_other_content_is_a_new_submission(
        tmp_path: Path, mail_media: Media) -> None:
    """Issue 16: a client gave two different messages one Message-ID; the second was dropped
    as a duplicate. Now each is recorded, checked and answered, and the second notes it."""
    config_path = write_config(tmp_path)
    first = samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<same@dhmz>")
    second = samplemail.failing_photo("fuli@dhmz.example.cn", mail_media, "<same@dhmz>")
    drop(tmp_path / "inbox", "first.eml", first)
    run_poll(config_path)
    drop(tmp_path / "inbox", "second.eml", second)
    drop(tmp_path / "inbox", "second-again.eml", second)  # a byte-identical copy: one record
    run_poll(config_path)
    with open_store(tmp_path) as store:
        one, two = store.messages()
        assert (one.message_id, two.message_id) == ("<same@dhmz>", "<same@dhmz>")
        assert (one.reuses, two.reuses) == (None, one.id)
        assert one.state == two.state == PROCESSED and two.no_reply is None
        assert [item.name for item in store.attachments(two.id)] == ["微信压缩照片.jpg"]
        assert store.attachments(two.id)[0].verdicts[0]["ok"] is False
        assert sorted(reply.message for reply in store.replies()) == [one.id, two.id]
        assert set(store.source_keys(two.id)) == {"maildir:second.eml",
                                                 "maildir:second-again.eml"}
    listed = json.loads(CliRunner().invoke(
        main, ["--config", str(config_path), "messages", "--json"]).output)
    assert [(row["id"], row["reuses_message_id_of"]) for row in listed] == \
        [(one.id, None), (two.id, one.id)]
    replies = outbox_messages(tmp_path)
    assert sorted(str(reply["In-Reply-To"]) for reply in replies) == ["<same@dhmz>"] * 2


def test_a_failing_message_is_marked_failed_and_does_not_block_others(
        tmp_path: Path, mail_media: Media) -> None:
    config = load_config(write_config(tmp_path, mailbox={"max_tries": 2}))
    drop(tmp_path / "inbox", "a.eml",
         samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<bad@x>"))
    drop(tmp_path / "inbox", "b.eml",
         samplemail.failing_photo("xzjly@dhmz.example.cn", mail_media, "<good@x>"))

    def broken_checker(path: Path, policy: object, name: str | None = None) -> list:
        if name and name.endswith(".docx"):
            raise RuntimeError("disk on fire")
        return check_file(path, policy, name)  # type: ignore[arg-type]

    for _ in range(3):
        with open_repository(config) as store:
            source = MaildirSource(tmp_path / "inbox")
            Intake(config, store, checker=broken_checker).run(source)
    with open_repository(config) as store:
        states = {row.message_id: (row.state, row.tries, row.last_error)
                  for row in store.messages()}
    assert states["<good@x>"][0] == PROCESSED
    assert states["<bad@x>"][:2] == (FAILED, 2)
    assert "disk on fire" in states["<bad@x>"][2]
    # The failed message stays unmarked in new/ for a person; the good one moved on.
    assert os.listdir(tmp_path / "inbox" / "new") == ["a.eml"]

    report = CliRunner().invoke(main, ["--config", str(tmp_path / "config.yaml"), "report",
                                       "--json"])
    assert json.loads(report.output)["failed"][0]["error"].endswith("disk on fire")
    # On demand, it is retried (and now succeeds with the real validator).
    poll_once(config, retry_failed=True)
    with open_repository(config) as store:
        assert {row.state for row in store.messages()} == {PROCESSED}


def test_remind_queues_once_per_interval_and_dry_run_queues_nothing(
        tmp_path: Path, mail_media: Media) -> None:
    config_path = write_config(tmp_path, campaign={"deadline": "2999-06-24"})
    drop(tmp_path / "inbox", "m.eml",
         samplemail.complete_submission("fuli@dhmz.example.cn", mail_media))
    run_poll(config_path)
    runner = CliRunner()
    dry = runner.invoke(main, ["--config", str(config_path), "remind", "--dry-run"])
    assert dry.exit_code == 0 and "将催报" in dry.output
    assert "德化县社会福利中心" not in dry.output  # complete: no reminder
    with open_store(tmp_path) as store:
        assert [r for r in store.replies() if r.kind == "reminder"] == []
    runner.invoke(main, ["--config", str(config_path), "remind"])
    again = runner.invoke(main, ["--config", str(config_path), "remind"])
    assert "跳过，已于 " in again.output
    with open_store(tmp_path) as store:
        reminders = [r for r in store.replies() if r.kind == "reminder"]
    # Four incomplete units; the domain-only unit (@etfly) has no address yet.
    assert sorted(r.recipient for r in reminders) == [
        "byg@dhmz.example.cn", "jiuzhu@dhmz.example.cn", "xzjly@dhmz.example.cn"]
    assert {r.state for r in reminders} == {"sent"}
    sample = email.message_from_bytes(reminders[0].body, policy=policy.default)
    assert sample["Auto-Submitted"] == "auto-generated"
    assert "还缺少：活动总结、视频、照片" in sample.get_body(("plain",)).get_content()


@pytest.mark.parametrize("subject", ["", "Re: 已补交"])
def test_subject_of_reply(tmp_path: Path, mail_media: Media, subject: str) -> None:
    config_path = write_config(tmp_path)
    raw = samplemail.message("byg@dhmz.example.cn", subject.encode(),
                             [samplemail.text_part("见附件")])
    drop(tmp_path / "inbox", "m.eml", raw)
    run_poll(config_path)
    [reply] = outbox_messages(tmp_path)
    assert reply["Subject"] == (subject or "Re: 安全管理月材料")


def test_files_lost_before_the_barrier_are_fetched_and_stored_again(
        tmp_path: Path, mail_media: Media) -> None:
    config_path = write_config(tmp_path)
    raw = samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<lost@dhmz>")
    drop(tmp_path / "inbox", "m1.eml", raw)
    run_poll(config_path)
    # A power loss after the records were committed but before the barrier: the records
    # survived, the files did not, and the message was never marked on the server.
    with open_store(tmp_path) as store:
        [row] = store.messages()
        lost = [store.raw_path(row.sha256)] + \
            [store.path(a.stored_name) for a in store.attachments(row.id)]
    for path in lost:
        path.unlink()
    [processed] = os.listdir(tmp_path / "inbox" / "cur")
    os.rename(tmp_path / "inbox" / "cur" / processed, tmp_path / "inbox" / "new" / "m1.eml")

    run_poll(config_path)
    with open_store(tmp_path) as store:
        [again] = store.messages()
        assert again.id == row.id and again.state == PROCESSED
        assert store.intact(again)
        assert store.raw_path(again.sha256).read_bytes() == raw
        stored = [store.path(a.stored_name).read_bytes()
                  for a in store.attachments(again.id)]
        assert stored == [mail_media.document, mail_media.video, mail_media.photo]
        assert len(store.replies()) == 1
    assert len(outbox_messages(tmp_path)) == 1
    assert os.listdir(tmp_path / "inbox" / "new") == []


def test_maildir_applies_the_size_limit_and_reads_only_the_header(
        tmp_path: Path, mail_media: Media) -> None:
    config_path = write_config(tmp_path, mailbox={"max_message_size": 20_000})
    raw = samplemail.complete_submission("fuli@dhmz.example.cn", mail_media, "<big@dhmz>")
    assert len(raw) > 20_000
    drop(tmp_path / "inbox", "big.eml", raw)
    result = CliRunner().invoke(main, ["poll", "--once", "--config", str(config_path)])
    assert result.exit_code == 0, result.output
    with open_store(tmp_path) as store:
        [row] = store.messages()
        assert row.state == "too_large" and row.size == len(raw)
        assert store.attachments(row.id) == []
        # Only the header block was kept for the record.
        assert store.raw_path(row.sha256).read_bytes() == raw.split(b"\r\n\r\n")[0] + b"\r\n"
    [reply] = outbox_messages(tmp_path)
    assert "均未收到" in reply.get_body(("plain",)).get_content()
    assert os.listdir(tmp_path / "inbox" / "new") == ["big.eml"]  # left for a person


def test_an_unreachable_mail_server_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config_path = write_config(tmp_path, mailbox={"source": {"imap": {
        "host": "127.0.0.1", "port": port, "security": "none", "user": "u",
        "password_env": "SAFETYMONTH_TEST_UNUSED"}}})
    result = CliRunner().invoke(main, ["--config", str(config_path), "poll", "--once"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("safetymonth: mail server: ")
    assert "Connection refused" in result.output and "Traceback" not in result.output


def test_a_message_that_cannot_be_recorded_is_failed_after_max_tries_and_reported(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A real store fault: a plain file where the raw message's two-letter folder belongs,
    # so writing the raw copy fails (as root too, unlike a permission).
    config_path = write_config(tmp_path, mailbox={"max_tries": 2})
    raw = samplemail.message("fuli@dhmz.example.cn", "总结", [samplemail.text_part("见附件")],
                             message_id="<unrecordable@dhmz>")
    digest = hashlib.sha256(raw).hexdigest()
    drop(tmp_path / "inbox", "m.eml", raw)
    blocker = tmp_path / "storage" / "raw" / digest[:2]
    blocker.parent.mkdir(parents=True)
    blocker.write_bytes(b"not a folder")
    config = load_config(config_path)
    with caplog.at_level(logging.INFO, logger="safetymonth"):
        for _ in range(4):
            poll_once(config)
    with open_repository(config) as store:
        [row] = store.messages()
        assert (row.state, row.tries, row.sha256) == (FAILED, 2, digest)
        assert "FileExistsError" in row.last_error
        assert store.replies() == []
    # One line per try, no traceback; nothing logged once it is failed.
    lines = [r.getMessage() for r in caplog.records if "maildir:m.eml" in r.getMessage()]
    assert len(lines) == 2 and "marked failed" in lines[1]
    assert all(record.exc_info is None for record in caplog.records)
    assert os.listdir(tmp_path / "inbox" / "new") == ["m.eml"]
    report = CliRunner().invoke(main, ["--config", str(config_path), "report", "--json"])
    [failed] = json.loads(report.output)["failed"]
    assert failed["source_key"] == "maildir:m.eml" and "FileExistsError" in failed["error"]
    # Once the fault is repaired, a retry on demand records and answers it.
    blocker.unlink()
    poll_once(config, retry_failed=True)
    with open_repository(config) as store:
        [row] = store.messages()
        assert row.state == PROCESSED and row.unit == "德化县社会福利中心"
        assert store.raw_path(digest).read_bytes() == raw
        assert len(store.replies()) == 1
