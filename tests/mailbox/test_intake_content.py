"""Exactly once by content across pollers (issue 16): two ``poll --once`` at the same time over
a Maildir holding each message twice (the second copy with the trace fields of another
delivery) and, for some, another message reusing its Message-ID. Each content gets one record
and one reply; each reused Message-ID a record and a reply of its own, noting the first."""

from __future__ import annotations

import email
from collections import Counter
from email import policy
from pathlib import Path

import pytest

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.storage.repository import PROCESSED
from tests.support.mailservers import drop, open_store, write_config
from tests.support.pollers import poller

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

ORIGINALS = 24
REUSED = 6  # the first REUSED originals' Message-IDs are reused by another message


def trace(index: int) -> bytes:
    return (f"Return-Path: <fuli@dhmz.example.cn>\r\nDelivered-To: aqgly@mzj.example.gov.cn\r\n"
            f"Received: from mx{index}.dhmz.example.cn\r\n\tby mx.mzj.example.gov.cn; "
            f"Mon, 17 Jun 2024 10:{index % 60:02d}:00 +0800\r\n").encode()


def submission(index: int, media: Media, variant: str) -> bytes:
    photo = media.photo + f"{variant}{index}".encode()
    return samplemail.message(
        "fuli@dhmz.example.cn", f"材料{index}{variant}",
        [samplemail.file_part(photo, samplemail.utf8_name(f"照片{index}.jpg"), "image/jpeg")],
        message_id=f"<content-{index}@dhmz>")


@pytest.mark.slow  # among the heaviest of the fast loop (--durations)
def test_two_pollers_record_each_content_once_and_each_reuse_anew(
        tmp_path: Path, mail_media: Media) -> None:
    inbox = tmp_path / "inbox"
    for index in range(ORIGINALS):
        raw = submission(index, mail_media, "")
        drop(inbox, f"{index:03d}-a.eml", trace(index) + raw)
        drop(inbox, f"{index:03d}-b.eml", trace(index + 100) + raw)  # delivered again
        if index < REUSED:
            drop(inbox, f"{index:03d}-c.eml", submission(index, mail_media, "（补）"))
    config = write_config(tmp_path, mailbox={"reply_rate_limit": {"count": 1000, "hours": 1}})
    pollers = [poller(config), poller(config)]
    assert [process.wait(timeout=600) for process in pollers] == [0, 0]
    assert poller(config).wait(timeout=600) == 0  # whatever the two left (none expected)

    with open_store(tmp_path) as store:
        rows = store.messages()
        assert len(rows) == ORIGINALS + REUSED
        assert {row.state for row in rows} == {PROCESSED}
        by_id = Counter(row.message_id for row in rows)
        assert by_id == Counter({f"<content-{index}@dhmz>": 2 if index < REUSED else 1
                                 for index in range(ORIGINALS)})
        first = {row.message_id: row.id for row in reversed(rows)}  # the earliest of each
        assert sorted(row.subject for row in rows if row.reuses is not None) == \
            sorted(f"材料{index}（补）" for index in range(REUSED))
        assert all(row.reuses == first[row.message_id] for row in rows if row.reuses)
        for row in rows:
            keys = {key.split(":", 1)[1].split(".")[0][-1] for key in store.source_keys(row.id)}
            assert keys == ({"c"} if row.reuses else {"a", "b"})
        replies = store.replies()
        assert Counter(reply.message for reply in replies) == Counter(row.id for row in rows)
    sent = [email.message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in (tmp_path / "outbox" / "new").iterdir()]
    assert len(sent) == ORIGINALS + REUSED
