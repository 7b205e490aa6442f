"""One credit rule and one meaning of ``messages.unit``, on SQLite and PostgreSQL: the unit
intake's triage credits is stored by its key, as the credit columns hold it; ``messages
--json`` and ``report`` still show names; a store whose messages held names is migrated
(0080); and the credit columns the store keeps equal the rule of :mod:`safetymonth.crediting`
evaluated in Python on what each message was made of."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command

from safetymonth.crediting import PROCESSED, Facts, credited_unit
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.storage import database
from safetymonth.storage.credit import CREDIT, RegistryUnit
from safetymonth.storage.repository import Outcome, Received, Repository, now
from tests.support.cli_runs import as_json, run
from tests.support.mailservers import drop, open_store, write_config

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

FULI, FULI_ID, FULI_ADDRESS = "德化县社会福利中心", "FL01", "fuli@dhmz.example.cn"
BYG, BYG_ADDRESS = "德化县殡仪馆", "byg@dhmz.example.cn"  # no id: its name is its key
UNITS = [{"name": FULI, "id": FULI_ID, "emails": [FULI_ADDRESS]},
         {"name": BYG, "emails": [BYG_ADDRESS]}]


def test_intake_stores_the_key_of_the_unit_it_credits(tmp_path: Path,
                                                       mail_media: Media) -> None:
    config = write_config(tmp_path, units=UNITS, campaign={"deadline": "2999-06-24"})
    drop(tmp_path / "inbox", "1.eml", samplemail.failing_photo(FULI_ADDRESS, mail_media))
    drop(tmp_path / "inbox", "2.eml", samplemail.failing_photo(BYG_ADDRESS, mail_media))
    run(config, "poll", "--once")
    with open_store(tmp_path) as store:
        stored = {row.sender: (row.unit, row.credit_unit) for row in store.messages()}
    assert stored == {FULI_ADDRESS: (FULI_ID, FULI_ID), BYG_ADDRESS: (BYG, BYG)}
    # Names at the edge, as before.
    listed = {item["sender"]: item["unit"] for item in as_json(config, "messages")}
    assert listed == {FULI_ADDRESS: FULI, BYG_ADDRESS: BYG}
    units = {unit["name"]: unit["submissions"] for unit in as_json(config, "report")["units"]}
    assert (units[FULI], units[BYG]) == (1, 1)


def test_a_store_whose_messages_named_units_is_migrated_to_keys(tmp_path: Path) -> None:
    write_config(tmp_path, units=UNITS)
    held = [FULI, BYG, "已删除的单位", None, FULI_ID]  # what the messages' unit held
    with open_store(tmp_path) as store:  # the registry synced: FL01 is named 德化县社会福利中心
        ids = [_message(store, number, unit) for number, unit in enumerate(held)]
        # back to revision 0075, as the release before this one left it
        command.downgrade(database._alembic(store.conn), "0075")
        store.conn.commit()
    with open_store(tmp_path) as store:
        assert database.revision(store.conn) == database.head()
        units = [store.message(ident).unit for ident in ids]  # type: ignore[union-attr]
    assert units == [FULI_ID, BYG, "已删除的单位", None, FULI_ID]


def _message(store: Repository, number: int, unit: str | None) -> int:
    message = store.record_received(f"test:{number}", Received(
        sha256=f"{number:064x}", size=1, message_id=f"<{number}@t>", sender="x@t.cn",
        sender_name=None, subject="材料", date_header=None)).message
    store.record_outcome(message, Outcome(PROCESSED, unit, "pass", None, None, None, {}))
    return message


@dataclass(frozen=True)
class Case:
    sender: str
    state: str = PROCESSED
    suspicious: str | None = None
    machine: str | None = None
    decided: str | None = None  # a coordinator's credit decision for this unit
    undone: bool = False  # ... undone again
    # The registry below, read by hand: the unit listing the address, and the domain.
    exact: str | None = None
    domain: str | None = None


REGISTRY = [RegistryUnit("FL01", "福利中心", ("fuli@dhmz.example.cn",)),
            RegistryUnit("ETY", "儿童福利院", ("@etfly.example.cn",)),
            RegistryUnit("DHMZ", "民政局", ("@dhmz.example.cn",))]
CASES = [
    Case("fuli@dhmz.example.cn", exact="FL01", domain="DHMZ"),
    Case("other@dhmz.example.cn", domain="DHMZ"),
    Case("a@etfly.example.cn", domain="ETY"),
    Case("who@elsewhere.cn"),
    Case("fuli@dhmz.example.cn", state="failed", exact="FL01", domain="DHMZ"),
    Case("fuli@dhmz.example.cn", state="too_large", exact="FL01", domain="DHMZ"),
    Case("fuli@dhmz.example.cn", suspicious="authentication failed: dkim=fail",
         exact="FL01", domain="DHMZ"),
    Case("a@etfly.example.cn", machine="auto-submitted: auto-replied", domain="ETY"),
    Case("who@elsewhere.cn", decided="ETY"),
    Case("a@etfly.example.cn", machine="auto-submitted: auto-replied", decided="FL01",
         domain="ETY"),
    Case("other@dhmz.example.cn", decided="ETY", undone=True, domain="DHMZ"),
]


def test_the_credit_columns_equal_the_rule_evaluated_in_python(tmp_path: Path,
                                                               engine: str | None) -> None:
    with Repository(tmp_path / "storage", engine) as store:
        store.sync_registry(REGISTRY)
        made = []
        for number, case in enumerate(CASES):
            message = store.record_received(f"case:{number}", Received(
                sha256=f"{number:064x}", size=1, message_id=f"<{number}@c>",
                sender=case.sender, sender_name=None, subject="材料", date_header=None)).message
            store.record_outcome(message, Outcome(case.state, None, "pass", case.suspicious,
                                                  case.machine, None, {}))
            decision = None
            if case.decided:
                decision = store.record_decision(CREDIT, "核实", "admin", now(), message=message,
                                                 unit=case.decided)
                if case.undone:
                    store.undo_decision(decision, "admin", now())
            made.append((message, case, None if case.undone else decision))
        stored = {message: store.message(message).credit_unit  # type: ignore[union-attr]
                  for message, _, _ in made}
        listed = {view.id: view.unit for view in store.message_views()}
    ruled = {message: credited_unit(Facts(
        decision=decision, decided=case.decided if decision else None, state=case.state,
        suspicious=case.suspicious, machine=case.machine, exact=case.exact,
        domain=case.domain)) for message, case, decision in made}
    assert stored == ruled == listed
    # And what an expert expects of the cases, in order.
    assert list(ruled.values()) == ["FL01", "DHMZ", "ETY", None, None, None, None, None,
                                    "ETY", "FL01", "DHMZ"]
