"""``replies.unit`` is the unit's key (its id, else its name) for every kind of reply, on
SQLite and PostgreSQL: intake replies, digests, reminders and decision notices, what
``report`` counts from it, bounces read through it, and the migration of stores whose intake
replies held the unit's name."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.storage import database
from tests.support.cli_runs import as_json, run, sent
from tests.support.hostile_mail import dsn_status, human, quoted_headers, report_message
from tests.support.mailservers import drop, free_port, open_store, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

FULI, FULI_ID, FULI_ADDRESS = "德化县社会福利中心", "FL01", "fuli@dhmz.example.cn"
BYG, BYG_ADDRESS = "德化县殡仪馆", "byg@dhmz.example.cn"  # no id: its name is its key
UNITS = [{"name": FULI, "id": FULI_ID, "emails": [FULI_ADDRESS]},
         {"name": BYG, "emails": [BYG_ADDRESS]}]


@pytest.mark.slow
def test_every_kind_of_reply_names_its_unit_by_key(tmp_path: Path, mail_media: Media) -> None:
    # The outbox is down (a closed port), so every reply stays queued for report to count.
    config = write_config(tmp_path, units=UNITS, campaign={"deadline": "2999-06-24"},
                          mailbox={"outbox": {"smtp": {"host": "127.0.0.1", "port": free_port(),
                                                       "security": "none", "timeout": 5}}})
    drop(tmp_path / "inbox", "1.eml", samplemail.failing_photo(FULI_ADDRESS, mail_media))
    drop(tmp_path / "inbox", "2.eml", samplemail.failing_photo(BYG_ADDRESS, mail_media))
    run(config, "poll", "--once", code=3)  # 3: replies left queued
    run(config, "remind", code=3)  # queued; the outbox fails again: 3, they stay queued
    [photo] = [item for item in as_json(config, "files") if item["unit_id"] == FULI_ID]
    run(config, "accept", str(photo["id"]), "--reason", "演练唯一照片", "--notify")

    with open_store(tmp_path) as store:
        kept = sorted((reply.kind, reply.unit) for reply in store.replies())
    assert kept == sorted([("decision", FULI_ID), ("reminder", BYG), ("reminder", FULI_ID),
                           ("reply", BYG), ("reply", FULI_ID)])
    units = {unit["name"]: unit for unit in as_json(config, "report")["units"]}
    assert (units[FULI]["queued_replies"], units[BYG]["queued_replies"]) == (3, 2)


def test_a_store_whose_replies_named_units_is_migrated_to_keys(tmp_path: Path) -> None:
    config = write_config(tmp_path, units=UNITS)
    with open_store(tmp_path) as store:  # the registry synced: FL01 is named 德化县社会福利中心
        for ident, kind, unit in [("r1", "reply", FULI), ("r2", "reply", BYG),
                                  ("r3", "reminder", FULI_ID), ("r4", "reply", "已删除的单位"),
                                  ("r5", "reply", None)]:
            store.queue_reply(ident, None, kind, unit, "x@dhmz.example.cn", {}, b"x")
        # back to revision 0030, as the release before this one left it (later migrations
        # undone; 0040's own downgrade leaves names as they are)
        command.downgrade(database._alembic(store.conn), "0030")
        store.conn.commit()
    with open_store(tmp_path) as store:
        assert database.revision(store.conn) == database.head()
        units = {reply.id: reply.unit for reply in store.replies()}
    assert units == {"r1": FULI_ID, "r2": BYG, "r3": FULI_ID, "r4": "已删除的单位", "r5": None}
    units_report = {unit["name"]: unit for unit in as_json(config, "report")["units"]}
    assert (units_report[FULI]["queued_replies"], units_report[BYG]["queued_replies"]) == (2, 1)


def test_a_bounce_of_a_reply_names_the_unit_the_reply_was_for(tmp_path: Path,
                                                             mail_media: Media) -> None:
    config = write_config(tmp_path, units=UNITS)
    drop(tmp_path / "inbox", "1.eml", samplemail.failing_photo(FULI_ADDRESS, mail_media))
    run(config, "poll", "--once")
    [reply] = sent(tmp_path)
    # Forwarded on by the unit's server to an address of no unit: only our reply's record
    # (found by the quoted Message-ID) says whose it was.
    drop(tmp_path / "inbox", "dsn.eml", report_message(
        "notify@mx.dhmz.example.cn", "delivery-status", [
            human("退信"), dsn_status("head@forward.example", "failed", "5.1.1", "550 no user"),
            quoted_headers(str(reply["Message-ID"]))], "<dsn@mx>"))
    run(config, "poll", "--once")
    [bounce] = as_json(config, "report")["bounces"]
    assert (bounce["unit"], bounce["address"], bounce["reply_message_id"]) == \
        (FULI, "head@forward.example", str(reply["Message-ID"]))
