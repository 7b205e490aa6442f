"""A crash loop during start-up (issue 16): ``poll --once`` processes killed with SIGKILL
soon after they start, many times, some right after they claimed a message; then one normal
run answers every message. The killed processes are left for their parent to collect, as a
busy supervisor leaves them for a while: dead, but still in the process table (zombies),
their pids answering ``kill(pid, 0)``. Their claims are taken over at once, not when the
lease runs out."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.storage.repository import PROCESSED
from tests.support.mailservers import drop, open_store, write_config
from tests.support.pollers import poller

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

MESSAGES = 12
KILLS = 10


def claimed_by(store: object, pid: int) -> int:
    """How many messages the process ``pid`` holds a claim on."""
    return sum(f":{pid}:" in (row.claimed_by or "") for row in store.messages())  # type: ignore[attr-defined]


@pytest.mark.slow  # among the heaviest of the fast loop (--durations)
def test_after_a_crash_loop_one_run_answers_every_message(tmp_path: Path,
                                                          mail_media: Media) -> None:
    for index in range(MESSAGES):
        photo = mail_media.photo + index.to_bytes(4, "big")
        drop(tmp_path / "inbox", f"{index:03d}.eml", samplemail.message(
            "fuli@dhmz.example.cn", f"材料{index}",
            [samplemail.file_part(photo, samplemail.utf8_name(f"照片{index}.jpg"),
                                  "image/jpeg")], message_id=f"<loop-{index}@dhmz>"))
    config = write_config(tmp_path, mailbox={"max_tries": KILLS + 5, "reply_rate_limit": {
        "count": 1000, "hours": 1}})
    rng = random.Random(16)
    dead: list[subprocess.Popen[bytes]] = []  # killed, not collected (until the end)
    try:
        with open_store(tmp_path) as store:
            for kill in range(KILLS):
                process = poller(config)
                deadline = time.monotonic() + 120
                # Every other one is killed as soon as it holds a claim, the others at once.
                while kill % 2 and process.poll() is None and time.monotonic() < deadline \
                        and not claimed_by(store, process.pid):
                    time.sleep(0.02)
                time.sleep(rng.uniform(0, 0.02))
                if process.poll() is not None:
                    break  # it finished (a slow machine's loop may let one through)
                os.kill(process.pid, signal.SIGKILL)
                dead.append(process)
            held = sum(claimed_by(store, process.pid) for process in dead)
            assert held > 0, "no kill landed after a claim"
        final = poller(config)
        assert final.wait(timeout=600) == 0
        with open_store(tmp_path) as store:
            rows = store.messages()
            assert len(rows) == MESSAGES
            assert [row.state for row in rows] == [PROCESSED] * MESSAGES
            assert {row.claimed_by for row in rows} == {None}
            replies = store.replies()
            assert sorted(reply.message for reply in replies) == sorted(row.id for row in rows)
            assert {reply.state for reply in replies} == {"sent"}
        assert os.listdir(tmp_path / "inbox" / "new") == []
    finally:
        for process in dead:
            process.wait()
