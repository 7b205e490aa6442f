"""Never reply to a machine (RFC 3834), trust is earned (Authentication-Results), units."""

from __future__ import annotations

from pathlib import Path

import pytest

from safetymonth.config import DEFAULT_UNITS, load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.auth import evaluate
from safetymonth.mailbox.samplemail import Media
from safetymonth.mailbox.service import poll_once
from safetymonth.mailbox.units import match_unit
from safetymonth.report import build_report
from safetymonth.storage.repository import Repository, open_repository
from tests.support.mailservers import drop, open_store, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

UNIT_SENDER = "fuli@dhmz.example.cn"


def _submit(tmp_path: Path, media: Media, sender: str = UNIT_SENDER,
            extra: list[bytes] | None = None, **config: object) -> Repository:
    parts = [samplemail.text_part("材料见附件"),
             samplemail.file_part(media.photo, samplemail.utf8_name("照片.jpg"), "image/jpeg")]
    raw = samplemail.message(sender, "材料", parts, extra=extra)
    drop(tmp_path / "inbox", "m.eml", raw)
    poll_once(load_config(write_config(tmp_path, **config)))
    return open_store(tmp_path)


@pytest.mark.parametrize(("sender", "extra", "reason"), [
    (UNIT_SENDER, [b"Auto-Submitted: auto-replied"], "Auto-Submitted"),
    (UNIT_SENDER, [b"Auto-Submitted: auto-generated"], "Auto-Submitted"),
    (UNIT_SENDER, [b"Return-Path: <>"], "empty Return-Path"),
    ("MAILER-DAEMON@dhmz.example.cn", [], "machine sender"),
    ("postmaster@dhmz.example.cn", [], "machine sender"),
    ("no-reply@dhmz.example.cn", [], "machine sender"),
    ("noreply@dhmz.example.cn", [], "machine sender"),
    (UNIT_SENDER, [b"List-Id: <safety.lists.example.cn>"], "mailing list"),
    (UNIT_SENDER, [b"List-Unsubscribe: <mailto:u@lists.example.cn>"], "mailing list"),
    (UNIT_SENDER, [b"Precedence: bulk"], "Precedence: bulk"),
    (UNIT_SENDER, [b"Precedence: list"], "Precedence: list"),
    (UNIT_SENDER, [b"Precedence: junk"], "Precedence: junk"),
    (UNIT_SENDER, [b"X-Autoreply: yes"], "auto-reply"),
    ("aqgly@mzj.example.gov.cn", [], "our own address"),
    # RFC 3834 as an expert reads it (issue 16): any Auto-Submitted other than "no" wins over
    # a "no"; a null reverse-path written with a space; Precedence: auto_reply; a sender that
    # asks Exchange-style for no auto-reply.
    (UNIT_SENDER, [b"Auto-Submitted: no", b"Auto-Submitted: auto-replied"], "Auto-Submitted"),
    (UNIT_SENDER, [b"Return-Path: < >"], "empty Return-Path"),
    (UNIT_SENDER, [b"Precedence: auto_reply"], "Precedence: auto_reply"),
    (UNIT_SENDER, [b"X-Auto-Response-Suppress: All"], "X-Auto-Response-Suppress"),
    (UNIT_SENDER, [b"X-Auto-Response-Suppress: DR, AutoReply"], "X-Auto-Response-Suppress"),
    (UNIT_SENDER, [b"X-Auto-Response-Suppress: OOF"], "X-Auto-Response-Suppress"),
])
def test_no_reply_to_machines(tmp_path: Path, mail_media: Media, sender: str,
                              extra: list[bytes], reason: str) -> None:
    with _submit(tmp_path, mail_media, sender, extra) as store:
        [row] = store.messages()
        assert reason in (row.no_reply or "")
        assert store.replies() == []
    assert not list((tmp_path / "outbox" / "new").iterdir())


def test_auto_submitted_no_is_a_person(tmp_path: Path, mail_media: Media) -> None:
    with _submit(tmp_path, mail_media, extra=[b"Auto-Submitted: no",
                                              b"Return-Path: <fuli@dhmz.example.cn>",
                                              b"X-Auto-Response-Suppress: DR, RN, NRN"]) as store:
        assert len(store.replies()) == 1


def test_reply_goes_to_from_never_to_reply_to_or_cc(tmp_path: Path, mail_media: Media) -> None:
    extra = [b"Reply-To: attacker@evil.example", b"Cc: boss@dhmz.example.cn"]
    with _submit(tmp_path, mail_media, extra=extra) as store:
        [reply] = store.replies()
        assert reply.recipient == UNIT_SENDER
        assert b"attacker@evil.example" not in reply.body


SPOOFED = [b"Authentication-Results: mx.163.com; dkim=fail header.d=dhmz.example.cn; "
           b"spf=pass smtp.mailfrom=evil.example; dmarc=fail"]


def test_spoofed_sender_is_suspicious_not_credited_not_answered(tmp_path: Path,
                                                                mail_media: Media) -> None:
    with _submit(tmp_path, mail_media, extra=SPOOFED) as store:
        [row] = store.messages()
        assert row.suspicious and "dkim=fail" in row.suspicious
        assert row.unit is None
        assert store.replies() == []
    report = build_report(load_config(tmp_path / "config.yaml"))
    unit = next(u for u in report["units"] if u["name"] == "德化县社会福利中心")
    assert unit["submissions"] == 0 and unit["photos_ok"] == 0
    assert report["suspicious"][0]["sender"] == UNIT_SENDER
    assert "dkim=fail" in report["suspicious"][0]["reason"]
    assert report["unknown_senders"] == []


def test_forged_pass_below_our_providers_header_does_not_count(tmp_path: Path,
                                                               mail_media: Media) -> None:
    # The topmost header is our provider's; a "pass" the forger wrote lower down is ignored.
    extra = [b"Authentication-Results: mx.163.com; spf=fail smtp.mailfrom=evil.example",
             b"Authentication-Results: mx.163.com; dkim=pass; spf=pass; dmarc=pass"]
    with _submit(tmp_path, mail_media, extra=extra) as store:
        [row] = store.messages()
        assert row.suspicious


def test_only_trusted_authserv_ids_count(tmp_path: Path, mail_media: Media) -> None:
    extra = [b"Authentication-Results: forger.example; dkim=pass; spf=pass",
             b"Authentication-Results: mx.163.com (comment); dkim=fail"]
    with _submit(tmp_path, mail_media, extra=extra,
                 mailbox={"trusted_authserv_ids": ["mx.163.com"]}) as store:
        [row] = store.messages()
        assert "dkim=fail" in row.suspicious


def test_failures_from_untrusted_ids_are_ignored() -> None:
    headers = ["mx.163.com; dkim=pass; spf=pass", "forger.example; dkim=fail"]
    assert evaluate(headers, ["mx.163.com"]).status == "pass"
    assert evaluate(headers, []).status == "pass"  # only the topmost counts
    assert evaluate([], []).status == "none"
    assert evaluate(["mx.163.com; dmarc=fail (p=reject) header.from=x.cn"], []).failed


def test_rate_limit_per_sender(tmp_path: Path, mail_media: Media) -> None:
    config = load_config(write_config(tmp_path, mailbox={"reply_rate_limit": {"count": 2,
                                                                              "hours": 1}}))
    for index in range(4):
        raw = samplemail.message(UNIT_SENDER, f"第{index}封", [samplemail.text_part("x")])
        drop(tmp_path / "inbox", f"m{index}.eml", raw)
    drop(tmp_path / "inbox", "other.eml",
         samplemail.message("byg@dhmz.example.cn", "x", [samplemail.text_part("x")]))
    poll_once(config)
    with open_repository(config) as store:
        replies = [row.recipient for row in store.replies()]
        limited = [row for row in store.messages() if row.no_reply]
    assert replies.count(UNIT_SENDER) == 2 and replies.count("byg@dhmz.example.cn") == 1
    # A unit over the limit is held for its digest (tests/mailbox/test_reply_digest.py), not
    # silenced.
    assert len(limited) == 2 and all(row.no_reply == "held for digest" and row.held_until
                                     for row in limited)


@pytest.mark.parametrize(("address", "unit"), [
    ("fuli@dhmz.example.cn", "德化县社会福利中心"),
    ("FULI@DHMZ.EXAMPLE.CN", "德化县社会福利中心"),
    ("anyone@etfly.example.cn", "德化县儿童福利院"),
    ("other@dhmz.example.cn", None),  # the domain alone is not registered
    ("x@sub.etfly.example.cn", None),
    ("", None),
])
def test_unit_matching(address: str, unit: str | None) -> None:
    found = match_unit(address, DEFAULT_UNITS)
    assert (found.name if found else None) == unit


@pytest.mark.parametrize("extra", [
    [b"Auto-Submitted: auto-replied", b"X-Autoreply: yes"],  # a vacation notice
    [b"Return-Path: <>", b"Auto-Submitted: auto-replied"],  # a bounce from the unit's server
    [b"Precedence: bulk"],
])
def test_machine_message_from_a_unit_is_kept_but_not_credited(
        tmp_path: Path, mail_media: Media, extra: list[bytes]) -> None:
    with _submit(tmp_path, mail_media, extra=extra) as store:
        [row] = store.messages()
        assert row.state == "processed" and row.unit is None
        assert row.not_credited and row.not_credited == row.no_reply
        assert len(store.attachments(row.id)) == 1  # its files are still kept
        assert store.replies() == []
    report = build_report(load_config(tmp_path / "config.yaml"))
    unit = next(u for u in report["units"] if u["name"] == "德化县社会福利中心")
    assert unit["submissions"] == 0 and unit["photos_ok"] == 0
    assert report["unknown_senders"] == []  # a unit's address, not an unknown sender
    [listed] = report["not_credited"]
    assert listed["sender"] == UNIT_SENDER and listed["claimed_unit"] == "德化县社会福利中心"
    assert listed["reason"] == row.no_reply


def test_a_person_over_the_rate_limit_is_still_credited(tmp_path: Path,
                                                        mail_media: Media) -> None:
    config = load_config(write_config(tmp_path, mailbox={"reply_rate_limit": {"count": 1,
                                                                              "hours": 1}}))
    for index in range(2):
        parts = [samplemail.text_part("x"),
                 samplemail.file_part(mail_media.photo + bytes([index]),
                                      samplemail.utf8_name("照片.jpg"), "image/jpeg")]
        drop(tmp_path / "inbox", f"m{index}.eml",
             samplemail.message(UNIT_SENDER, f"第{index}封", parts))
    poll_once(config)
    report = build_report(config)
    unit = next(u for u in report["units"] if u["name"] == "德化县社会福利中心")
    assert unit["submissions"] == 2 and unit["photos_ok"] == 2
    assert report["not_credited"] == []


def test_an_authentication_header_that_names_no_server_is_ignored(tmp_path: Path,
                                                                 mail_media: Media) -> None:
    extra = [b"Authentication-Results: (only a comment); spf=fail"]
    with _submit(tmp_path, mail_media, extra=extra,
                 mailbox={"trusted_authserv_ids": ["mx.163.com"]}) as store:
        [row] = store.messages()
        assert row.state == "processed" and row.suspicious is None
        assert row.unit == "德化县社会福利中心"
