"""decide(): credit, machine mail, authentication and the reply rate limit, from a table."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from safetymonth.config import Config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.parse import parse
from safetymonth.mailbox.triage import triage as decide

UNIT = "德化县社会福利中心"
UNIT_ADDRESS = "fuli@dhmz.example.cn"
DOMAIN_UNIT = "德化县儿童福利院"  # registered as @etfly.example.cn
PASS = b"Authentication-Results: mx.mzj.example.gov.cn; dkim=pass; spf=pass; dmarc=pass"
FAIL = b"Authentication-Results: mx.mzj.example.gov.cn; dkim=fail; spf=fail"


@dataclass(frozen=True)
class Case:
    sender: str
    headers: tuple[bytes, ...] = ()
    recent_replies: int = 0
    # What an expert expects:
    unit: str | None = None
    claimed: str | None = None
    suspicious: bool = False
    machine: str | None = None  # the start of the reason
    reply: bool = True
    no_reply: str | None = None  # the start of the reason
    held: bool = False  # answered by the window's digest


CASES = {
    "registered unit, authentication passed": Case(
        UNIT_ADDRESS, (PASS,), unit=UNIT, claimed=UNIT),
    "registered unit, no Authentication-Results": Case(UNIT_ADDRESS, unit=UNIT, claimed=UNIT),
    "a unit registered by domain": Case(
        "wang@etfly.example.cn", unit=DOMAIN_UNIT, claimed=DOMAIN_UNIT),
    "unregistered sender: answered, credited to nobody": Case("stranger@qq.example.com"),
    "forged unit address (dkim and spf fail)": Case(
        UNIT_ADDRESS, (FAIL,), claimed=UNIT, suspicious=True, reply=False,
        no_reply="authentication failed"),
    "a unit's vacation notice": Case(
        UNIT_ADDRESS, (b"Auto-Submitted: auto-replied",), claimed=UNIT,
        machine="Auto-Submitted", reply=False, no_reply="Auto-Submitted"),
    "a bounce (empty Return-Path)": Case(
        "MAILER-DAEMON@mx.example.cn", (b"Return-Path: <>",), machine="empty Return-Path",
        reply=False, no_reply="empty Return-Path"),
    "a mailing list": Case(
        UNIT_ADDRESS, (b"List-Id: <notices.dhmz.example.cn>",), claimed=UNIT, machine="",
        reply=False, no_reply=""),
    "bulk mail": Case(
        "news@shop.example.com", (b"Precedence: bulk",), machine="", reply=False, no_reply=""),
    "Auto-Submitted: no is a person": Case(
        UNIT_ADDRESS, (b"Auto-Submitted: no",), unit=UNIT, claimed=UNIT),
    "rate limit reached by a unit: credited, held for the digest": Case(
        UNIT_ADDRESS, recent_replies=10, unit=UNIT, claimed=UNIT, reply=False,
        no_reply="held for digest", held=True),
    "rate limit reached by a unit registered by domain: held too": Case(
        "wang@etfly.example.cn", recent_replies=12, unit=DOMAIN_UNIT, claimed=DOMAIN_UNIT,
        reply=False, no_reply="held for digest", held=True),
    "rate limit reached by an unknown sender: silent, no digest": Case(
        "stranger@qq.example.com", recent_replies=10, reply=False,
        no_reply="rate limit: 10 replies within 1"),
    "a unit's auto-responder over the rate limit: a machine, never a digest": Case(
        UNIT_ADDRESS, (b"Auto-Submitted: auto-replied",), recent_replies=10, claimed=UNIT,
        machine="Auto-Submitted", reply=False, no_reply="Auto-Submitted"),
    "a forged unit address over the rate limit: never a digest": Case(
        UNIT_ADDRESS, (FAIL,), recent_replies=10, claimed=UNIT, suspicious=True, reply=False,
        no_reply="authentication failed"),
    "one under the rate limit": Case(UNIT_ADDRESS, recent_replies=9, unit=UNIT, claimed=UNIT),
    "forged and a machine: suspicious wins, not 'not credited'": Case(
        UNIT_ADDRESS, (FAIL, b"Auto-Submitted: auto-replied"), claimed=UNIT, suspicious=True,
        machine="Auto-Submitted", reply=False, no_reply="authentication failed"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_decide(name: str) -> None:
    case = CASES[name]
    raw = samplemail.message(case.sender, "材料", [samplemail.text_part("见附件")],
                             extra=list(case.headers))
    config = Config()
    decision = decide(parse(io.BytesIO(raw)), config.mailbox, config.units, case.recent_replies)
    assert decision.unit == case.unit
    assert decision.claimed_unit == case.claimed == decision.notes["claimed_unit"]
    assert (decision.suspicious is not None) == case.suspicious
    if case.machine is None:
        assert decision.machine is None
    else:
        assert decision.machine is not None and decision.machine.startswith(case.machine)
    assert decision.not_credited == (None if case.suspicious else decision.machine)
    assert (decision.no_reply is None) == case.reply
    assert decision.held == case.held
    if case.no_reply is not None:
        assert decision.no_reply is not None and decision.no_reply.startswith(case.no_reply)
