"""Replies that never go silent, on SQLite and PostgreSQL, through a real Maildir inbox and
outbox: a registered unit over the reply rate limit gets its first replies at once and the
rest in one digest when the window ends (``poll --once`` after the window, and ``watch``
waking at the window's end); an unknown sender's flood gets no digest; two pollers at once
queue one digest; ``report`` lists every unanswered message with why.

Time is the repository's clock, injected (never slept): the window is the config's
``mailbox.reply_rate_limit``."""

from __future__ import annotations

import email
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from safetymonth.config import Config, load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.digest import queue_due_digests, seconds_to_next_digest
from safetymonth.mailbox.samplemail import Media
from safetymonth.mailbox.service import poll_once, watch
from safetymonth.report import build_report, format_report
from safetymonth.storage.overview import Overview
from safetymonth.storage.repository import open_repository
from tests.support.cli_runs import as_json, run, text_of
from tests.support.mailservers import drop, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

UNIT, UNIT_NAME = "fuli@dhmz.example.cn", "德化县社会福利中心"
STRANGER = "stranger@qq.example.com"
LIMIT = 10  # the default mailbox.reply_rate_limit: 10 replies within 1 hour
ZONE = ZoneInfo("Asia/Shanghai")
VOICE = {"office": "德化县民政局安全管理月活动办公室", "contact": "0595-23521234"}


class Clock:
    """The time the store sees, set by the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def subject_of(message: email.message.Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def outbox(tmp_path: Path, besides: Sequence[email.message.Message] = ()
           ) -> list[email.message.Message]:
    """What the Maildir outbox holds, except the messages in ``besides`` (by Message-ID)."""
    folder = tmp_path / "outbox" / "new"
    known = {item["Message-ID"] for item in besides}
    found = [email.message_from_bytes(path.read_bytes()) for path in sorted(folder.iterdir())] \
        if folder.exists() else []
    return [item for item in found if item["Message-ID"] not in known]


def flood(tmp_path: Path, sender: str, media: Media, count: int, start: int = 0) -> list[str]:
    """``count`` messages from ``sender``, each with a photo: odd ones too small."""
    subjects = []
    for index in range(start, start + count):
        subject = f"第{index + 1}批照片"
        photo = media.small_photo if index % 2 else media.photo
        drop(tmp_path / "inbox", f"{sender}-{index:02d}.eml", samplemail.message(
            sender, subject, [samplemail.text_part("请查收。"), samplemail.file_part(
                photo, samplemail.utf8_name(f"照片{index + 1}.jpg"), "image/jpeg")]))
        subjects.append(subject)
    return subjects


def configured(tmp_path: Path, **mailbox: object) -> Config:
    return load_config(write_config(tmp_path, campaign=VOICE, mailbox={
        "source": "maildir:inbox", "outbox": "maildir:outbox", **mailbox}))


def test_a_units_flood_gets_its_replies_at_once_then_one_digest_after_the_window(
        tmp_path: Path, mail_media: Media) -> None:
    config = configured(tmp_path)
    clock = Clock()
    start = clock.now
    subjects = flood(tmp_path, UNIT, mail_media, LIMIT + 2)
    poll_once(config, clock=clock)

    answered = outbox(tmp_path)
    assert len(answered) == LIMIT and {item["To"] for item in answered} == {UNIT}
    replied = {subject_of(item).removeprefix("Re: ") for item in answered}
    held_subjects = set(subjects) - replied
    assert len(held_subjects) == 2
    # Every reply was queued at ``start`` (the clock stood still): the window ends an hour on.
    until = start + timedelta(hours=1)
    report = build_report(config)
    held = [item for item in report["unanswered"] if item["sender"] == UNIT]
    assert {item["subject"] for item in held} == held_subjects
    assert {item["reason"] for item in held} == {
        f"held for digest until {until.astimezone(ZONE):%H:%M}"}
    assert {item["held_until"] for item in held} == {until.isoformat()}
    unit = next(item for item in report["units"] if item["name"] == UNIT_NAME)
    assert unit["unanswered"] == 2
    with open_repository(config) as store:  # the console's board counts them too
        assert Overview(store).unanswered() == {UNIT_NAME: 2}
    table = format_report(report, "Asia/Shanghai")
    assert all(f"超过回复频率，{until.astimezone(ZONE):%H:%M} 在汇总回复中一并答复" in line
               for line in table.splitlines() if line.startswith("未回复"))

    clock.now = until - timedelta(minutes=1)  # still inside the window: nothing more
    poll_once(config, clock=clock)
    assert len(outbox(tmp_path)) == LIMIT

    clock.now = until + timedelta(seconds=1)  # the window is over: one digest, and a new
    [late] = flood(tmp_path, UNIT, mail_media, 1, start=LIMIT + 2)  # mail answered alone
    poll_once(config, clock=clock)
    poll_once(config, clock=clock)  # and again: still one digest
    new = outbox(tmp_path, besides=answered)
    digests = [item for item in new if "【汇总回复】" in subject_of(item)]
    assert len(new) == 2 and len(digests) == 1
    assert {subject_of(item) for item in new} - {subject_of(digests[0])} == {f"Re: {late}"}
    [digest] = digests
    assert digest["To"] == UNIT and digest["Auto-Submitted"] == "auto-replied"
    assert VOICE["office"] in str(make_header(decode_header(digest["From"])))
    body = text_of(digest)
    assert f"超过了逐封自动回复的上限（1 小时内 {LIMIT} 封），以下 2 封没有逐封回复" in body
    assert f"至 {until.astimezone(ZONE):%Y-%m-%d %H:%M} 您发来的邮件" in body
    with open_repository(config) as store:
        rows = {row.subject: row for row in store.messages()}
    for subject in held_subjects:
        row = rows[subject]
        received = datetime.fromisoformat(row.received_at).astimezone(ZONE)
        assert f"邮件“{subject}”（{received:%Y-%m-%d %H:%M} 收到）" in body
        number = int(subject.removeprefix("第").removesuffix("批照片"))
        # Odd-numbered batches carry the 1920×1080 photo, even ones the 1280×960 one.
        size, verdict = ("1920×1080", "合格") if number % 2 else ("1280×960", "不合格")
        assert f"照片{number}.jpg：JPEG 照片，{size}，{verdict}" in body
    for subject in replied:
        assert f"邮件“{subject}”" not in body
    # The unit sent photos only, so it still lacks a summary and a video.
    assert f"截至本邮件发出时，{UNIT_NAME}还缺少：活动总结、视频。" in body
    assert VOICE["office"] in body and f"联系电话：{VOICE['contact']}" in body
    assert digest["References"].split()[-1] == digest["In-Reply-To"]
    assert {rows[subject].message_id for subject in held_subjects} <= \
        set(digest["References"].split())

    report = build_report(config)
    assert [item for item in report["unanswered"] if item["sender"] == UNIT] == []
    with open_repository(config) as store:
        assert Overview(store).unanswered() == {}
        ids = [rows[subject].id for subject in held_subjects]
        answers = Overview(store).replies_of(ids)  # the unit's page shows the digest
        assert {reply.kind for message in ids for reply in answers[message]} == {"digest"}
    assert next(item for item in report["units"] if item["name"] == UNIT_NAME)[
        "unanswered"] == 0


def test_a_strangers_flood_and_machine_mail_get_no_digest_but_are_listed(
        tmp_path: Path, mail_media: Media) -> None:
    config = configured(tmp_path)
    clock = Clock()
    flood(tmp_path, STRANGER, mail_media, LIMIT + 2)
    drop(tmp_path / "inbox", "vacation.eml", samplemail.auto_reply(UNIT, "<away@x>"))
    poll_once(config, clock=clock)
    clock.now += timedelta(hours=2)
    poll_once(config, clock=clock)

    sent = outbox(tmp_path)
    assert len(sent) == LIMIT and {item["To"] for item in sent} == {STRANGER}
    report = as_json(write_config(tmp_path, campaign=VOICE), "report")
    silent = [item for item in report["unanswered"] if item["sender"] == STRANGER]
    assert len(silent) == 2 and {item["reason"] for item in silent} == {
        "rate limit: 10 replies within 1.0 h, not a registered unit"}
    assert all(item["held_until"] is None for item in silent)
    assert set(silent[0]) == {"id", "sender", "message_id", "unit", "subject", "received",
                              "reason", "held_until"}  # as README documents them
    [machine] = [item for item in report["unanswered"] if item["sender"] == UNIT]
    assert machine["message_id"] == "<away@x>" and "Auto-Submitted" in machine["reason"]
    table = run(write_config(tmp_path, campaign=VOICE), "report").stdout
    assert table.count("且不是登记的单位") == 2 and "自动发出的邮件（Auto-Submitted" in table


def test_two_pollers_at_once_queue_one_digest(tmp_path: Path, mail_media: Media) -> None:
    config = configured(tmp_path)
    clock = Clock()
    flood(tmp_path, UNIT, mail_media, LIMIT + 3)
    poll_once(config, clock=clock)
    clock.now += timedelta(hours=1, seconds=1)

    with open_repository(config, clock=clock) as late:
        stale = late.due_digests()  # read before the others queue it
        assert len(stale) == 3
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def poller() -> None:
            try:
                barrier.wait()
                poll_once(config, clock=clock)
            except BaseException as error:  # shown by the assertion below
                errors.append(error)

        threads = [threading.Thread(target=poller) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        # A third poller that read the held messages before: its digest is refused.
        assert not late.queue_digest("digest-stale", None, UNIT, {}, b"x",
                                     [row.id for row in stale])
        assert queue_due_digests(config, late) == 0
        digests = [reply for reply in late.replies() if reply.kind == "digest"]
    assert len(digests) == 1 and digests[0].state == "sent"
    assert len([item for item in outbox(tmp_path) if "【汇总回复】" in subject_of(item)]) == 1


@pytest.mark.slow
def test_a_watcher_wakes_at_the_windows_end_and_sends_the_digest(
        tmp_path: Path, mail_media: Media) -> None:
    # A short window, so that the watcher really waits for it; the poll interval is far
    # longer, so only the digest's due time wakes it. No mail arrives meanwhile.
    config = configured(tmp_path, poll_interval=3600,
                        reply_rate_limit={"count": 2, "hours": 0.003})
    for index in range(3):
        drop(tmp_path / "inbox", f"{index}.eml", samplemail.message(
            UNIT, f"第{index + 1}封", [samplemail.text_part("见附件")]))
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(config, stop))
    watcher.start()
    try:
        found = False
        for _ in range(600):  # up to a minute; the window is about 11 seconds
            found = any("【汇总回复】" in subject_of(item) for item in outbox(tmp_path))
            if found or stop.wait(0.1):
                break
        assert found, [subject_of(item) for item in outbox(tmp_path)]
    finally:
        stop.set()
        watcher.join()
    assert len(outbox(tmp_path)) == 3  # two replies, then one digest for the third


def test_a_watcher_waits_no_longer_than_the_next_digest(tmp_path: Path,
                                                        mail_media: Media) -> None:
    config = configured(tmp_path)
    clock = Clock()
    flood(tmp_path, UNIT, mail_media, LIMIT + 1)
    poll_once(config, clock=clock)
    with open_repository(config, clock=clock) as store:
        clock.now += timedelta(minutes=50)  # the window ends in ten minutes
        assert seconds_to_next_digest(store, 3600) == 600
        assert seconds_to_next_digest(store, 60) == 60
        clock.now += timedelta(minutes=30)  # overdue: poll again at once (within a second)
        assert seconds_to_next_digest(store, 3600) == 1


def test_the_digest_template_comes_from_mailbox_templates_dir(
        tmp_path: Path, mail_media: Media) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "digest.txt.j2").write_text(
        "{{ greeting }}：汇总 {{ messages|length }} 封"
        "{% for message in messages %}，{{ message.subject }}{% endfor %}。\n"
        "{{ signature }} {{ contact }}\n", encoding="utf-8")
    config = configured(tmp_path, templates_dir="templates",
                        reply_rate_limit={"count": 1, "hours": 1})
    clock = Clock()
    flood(tmp_path, UNIT, mail_media, 3)
    poll_once(config, clock=clock)
    [reply] = outbox(tmp_path)
    clock.now += timedelta(hours=1)  # the window ends exactly then: due
    poll_once(config, clock=clock)
    [digest] = outbox(tmp_path, besides=[reply])
    held = sorted({"第1批照片", "第2批照片", "第3批照片"} -
                  {subject_of(reply).removeprefix("Re: ")})
    assert text_of(digest) == (f"{UNIT_NAME}：汇总 2 封，{held[0]}，{held[1]}。\n"
                               f"{VOICE['office']} {VOICE['contact']}\n")
    html = next(part for part in digest.walk() if part.get_content_type() == "text/html")
    assert VOICE["office"] in html.get_payload(decode=True).decode("utf-8")  # built-in HTML
