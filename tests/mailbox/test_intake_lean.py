"""Intake's lean path (issue 23 part 1): one probe worker per poll, the pending keys looked
up in batches, and a reply's upload link read for its unit alone; each answering as the
one-at-a-time path did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from safetymonth.config import load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.mailbox.service import poll_once
from safetymonth.storage import messages as message_part
from safetymonth.storage.repository import Received
from safetymonth.storage.session import now
from safetymonth.validator import sandbox
from tests.support.mailservers import drop, open_store, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL


def test_a_poll_of_new_mail_starts_one_probe_worker(tmp_path: Path, mail_media: Media) -> None:
    """The worker started ahead of the first fetch is the one the first check waits for:
    a second one would cost another interpreter with Pillow and MediaInfo imported."""
    sandbox.set_size(2)  # as a fresh process on this 2-core machine has it
    config = load_config(write_config(tmp_path))
    for index in range(2):
        drop(tmp_path / "inbox", f"{index}.eml", samplemail.complete_submission(
            "fuli@dhmz.example.cn", mail_media, f"<lean-{index}@dhmz>"))
    stats = poll_once(config)
    assert stats.processed == 2
    pool = sandbox.current_pool()
    assert pool is not None and len(pool.pids()) == 1


def _received(index: int) -> Received:
    return Received(sha256=f"{index:064x}", size=index, message_id=f"<k{index}@x>",
                    sender="fuli@dhmz.example.cn", sender_name=None, subject=f"材料{index}",
                    date_header=None, content=f"{index:064x}")


def test_keys_looked_up_together_find_what_each_lookup_finds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(message_part, "KEYS_CHUNK", 2)  # several statements for 7 keys
    write_config(tmp_path)
    with open_store(tmp_path) as store:
        for index in range(5):
            store.record_received(f"maildir:{index}.eml", _received(index))
        store.add_source_key("imap:again", store.message_for_key("maildir:3.eml").id)
        keys = ["maildir:4.eml", "nowhere:1", "maildir:0.eml", "imap:again",
                "maildir:2.eml", "nowhere:2", "maildir:1.eml"]
        found = store.messages_for_keys(keys)
        assert found == {key: store.message_for_key(key) for key in keys
                         if not key.startswith("nowhere")}
        assert found["imap:again"].source_key == "maildir:3.eml"
        assert store.messages_for_keys([]) == {}


def test_one_units_live_link_is_read_alone(tmp_path: Path) -> None:
    write_config(tmp_path)
    issued = datetime.now(UTC)
    stamp = lambda at: at.isoformat(timespec="seconds")  # noqa: E731
    with open_store(tmp_path) as store:
        store.issue_link("u1", "a" * 64, "n1", stamp(issued), stamp(issued + timedelta(days=9)))
        store.issue_link("u2", "b" * 64, "n2", stamp(issued), stamp(issued + timedelta(days=9)))
        store.issue_link("u2", "c" * 64, "n3", stamp(issued), stamp(issued + timedelta(days=9)))
        store.issue_link("u3", "d" * 64, "n4", stamp(issued - timedelta(days=9)),
                         stamp(issued - timedelta(days=1)))  # expired
        every = store.live_links(now())
        assert sorted(every) == ["u1", "u2"]
        assert store.live_links(now(), "u2") == {"u2": every["u2"]}
        assert every["u2"].nonce == "n3"  # the newer link: the older one is rotated
        assert store.live_links(now(), "u3") == {}
        assert store.live_links(now(), "u9") == {}
