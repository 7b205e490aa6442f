"""No backscatter (issue 16): a reply to an address that is no registered unit's quotes
nothing the message held, so a forged From cannot make the bureau's address carry anyone's
text; it says the address is not registered and whom to contact. A unit's reply still
quotes its subject."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from tests.support.cli_runs import run
from tests.support.mailservers import drop, open_store, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

VICTIM = "victim@qq.example.com"  # forged as the sender: the reply would land there
SUBJECT = "恭喜中奖 请访问 http://spam.example/claim 领取"
NAME = "客服中心 spam.example 热线 400-000-0000"
FILE_NAME = "点击领奖 spam.example.jpg"
MESSAGE_ID = "<spam.example-claim-now@spam.example>"
CONTACT = "0595-23528000"
OFFICE = "德化县民政局安全管理月活动办公室"


def forged(media: Media) -> bytes:
    sender = f"{samplemail._encoded_word(NAME, 'utf-8').decode()} <{VICTIM}>"
    parts = [samplemail.text_part("见附件"),
             samplemail.file_part(media.photo, samplemail.utf8_name(FILE_NAME), "image/jpeg")]
    return samplemail.message(sender, SUBJECT, parts, message_id=MESSAGE_ID)


def bodies(message: email.message.EmailMessage) -> str:
    return "\n".join(part.get_content() for part in message.walk()
                     if part.get_content_maintype() == "text")


def test_a_stranger_reply_quotes_nothing_and_says_whom_to_contact(
        tmp_path: Path, mail_media: Media) -> None:
    config = write_config(tmp_path, campaign={"office": OFFICE, "contact": CONTACT})
    drop(tmp_path / "inbox", "forged.eml", forged(mail_media))
    drop(tmp_path / "inbox", "unit.eml", samplemail.message(
        "fuli@dhmz.example.cn", "福利中心第一批材料",
        [samplemail.file_part(mail_media.photo, samplemail.utf8_name("演练.jpg"),
                              "image/jpeg")]))
    run(config, "poll", "--once")

    outbox = tmp_path / "outbox" / "new"
    replies = {message["To"]: message for message in (
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in outbox.iterdir())}
    reply = replies[VICTIM]
    raw = next(path.read_bytes() for path in outbox.iterdir()
               if email.message_from_bytes(path.read_bytes())["To"] == VICTIM)
    text = bodies(reply)
    headers = "\n".join(f"{name}: {value}" for name, value in reply.items())
    for quoted in (SUBJECT, NAME, FILE_NAME, MESSAGE_ID, "spam.example", "中奖", "点击"):
        assert quoted not in text and quoted not in headers
        assert quoted.encode() not in raw
    assert reply["In-Reply-To"] is None and reply["References"] is None
    assert "不在参加活动单位的登记名单中" in text
    assert f"请联系{OFFICE}（联系电话：{CONTACT}）" in text
    assert reply["Auto-Submitted"] == "auto-replied"

    # A registered unit's reply is as before: its subject and files quoted.
    unit_text = bodies(replies["fuli@dhmz.example.cn"])
    assert "福利中心第一批材料" in unit_text and "演练.jpg" in unit_text
    with open_store(tmp_path) as store:  # the stranger's mail is recorded and checked all the same
        row = next(row for row in store.messages() if row.sender == VICTIM)
        assert row.subject == SUBJECT and row.unit is None
        assert [item.name for item in store.attachments(row.id)] == [FILE_NAME]
