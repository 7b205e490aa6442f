"""Read-time credit and judgement, as SQL: the repository's credit part.

Whose submission a message is, and whether a file counts as accepted, is worked out when it
is read, never copied into the message rows:

- **credit**: :func:`safetymonth.crediting.credit`, the one rule intake's triage also
  evaluates, here on SQL columns (:data:`COLUMNS`), with the registry
  (``registry_addresses``, synced from ``units[]`` on open). Adding an address to a unit
  therefore credits that address's earlier mail at once, without a re-poll.
- **judgement**: the latest accept or reject decision on the same content (sha256, and the
  member's name in a zip) that is not undone; else the validator's verdict. A decision holds
  for every copy of the content, so a re-sent file never disagrees with itself.
- **tally**: per unit, kind and judgement, identical content counts once.

The judgement is written once, as the SQL of :func:`_judgement`; the credit is the rule of
:mod:`safetymonth.crediting` made SQL by :func:`credit_query`. The board
needs it for every file at once, so its result is also kept in columns (``messages.
credit_unit``, ``checks.credit_unit``, ``checks.judged_ok``) by :meth:`Credit.
refresh_credit`, in the transaction of every write it depends on: a registry sync, a decision
or its undo, a message's outcome or restart. The tally is then one scan of a covering index
(2,000 units and 100,000 files), and adding an address to a unit still credits its earlier
mail at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    true,
    update,
)

from safetymonth import crediting
from safetymonth.storage.hot import hot
from safetymonth.storage.records import (
    ACCEPT,
    ADD,
    ADDED_PREFIX,
    ASSIGN,
    CREDIT,
    DISMISS,
    FILE_ACTIONS,
    MESSAGE_ACTIONS,
    PROCESSED,
    REJECT,
    TALLY_FIELDS,
    DecisionRecord,
    FileView,
    MessageView,
    RegistryUnit,
    SenderCount,
    Tally,
)
from safetymonth.storage.schema import (
    checks,
    decisions,
    messages,
    meta,
    registry_addresses,
    registry_units,
)
from safetymonth.storage.session import Session

__all__ = [
    "ACCEPT",
    "ADD",
    "ADDED_PREFIX",
    "ASSIGN",
    "CREDIT",
    "DISMISS",
    "FILE_ACTIONS",
    "MESSAGE_ACTIONS",
    "REJECT",
    "Credit",
    "DecisionRecord",
    "FileView",
    "MessageView",
    "RegistryUnit",
    "Tally",
    "content_id",
    "dismissed",
]

REGISTRY_LOCK = 0x5AFE8  # PostgreSQL advisory lock held while the unit registry is rewritten
CHUNK = 500  # ids per IN (...), under SQLite's variable limit


# --- the SQL --------------------------------------------------------------------------------


def one_of(column: Any, values: tuple[str, ...]) -> Any:
    """``column`` is one of ``values``, as plain comparisons: an ``IN`` of a list is expanded
    when executed, which costs the statement its cached SQL at every execution."""
    return or_(*(column == value for value in values))


def _latest_credit() -> Any:
    """Per message, the id of its latest credit (or add) decision that is not undone."""
    return select(decisions.c.message, func.max(decisions.c.id).label("decision")) \
        .where(one_of(decisions.c.action, MESSAGE_ACTIONS), decisions.c.undone_at.is_(None)) \
        .group_by(decisions.c.message).subquery()


def dismissed() -> Any:
    """The message (of the enclosing query on ``messages``) was put aside by a dismiss
    decision that is not undone."""
    return exists().where(decisions.c.message == messages.c.id,
                          decisions.c.action == DISMISS, decisions.c.undone_at.is_(None))


def content_id(sha256: str, attachment: str, path: str, shared: int | None = None) -> int:
    """A file's content as a number: its attachment's hash plus, for a zip member, the
    member's name, hashed to 63 bits (a signed BIGINT; two different contents share one
    with odds of 1 in 10^9 among 100,000 files). Deterministic, so copies recorded at the same
    moment by two processes still agree, and an integer, so counting distinct contents is
    cheap. Stored in every check row: never change how it is computed. ``shared``: the
    member's index when other members of its zip have its name, which then tells them apart
    (a zip of two ``现场.jpg``, an HTML page and a photo, holds two contents)."""
    member = path[len(attachment) + 1:] if path != attachment else ""
    if shared is not None:
        member += f"#{shared}"
    digest = hashlib.sha256(f"{sha256}!{member}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class _Columns:
    """The credit rule's :class:`~safetymonth.crediting.Terms` on SQL expressions."""

    def first(self, *values: Any) -> Any:
        return func.coalesce(*values)

    def when(self, condition: Any, value: Any) -> Any:
        return case((condition, literal(value) if isinstance(value, str) else value))

    def present(self, value: Any) -> Any:
        return value.is_not(None)

    def absent(self, value: Any) -> Any:
        return value.is_(None)

    def equals(self, value: Any, constant: str) -> Any:
        return value == constant

    def every(self, *conditions: Any) -> Any:
        return and_(*conditions)


COLUMNS: crediting.Terms[Any] = _Columns()


def credit_query(unit: Any = None, message: Any = None) -> Any:
    """(message, unit, credited_by) for every message; with ``unit``, only the messages that
    could be that unit's (index lookups, not a scan of every message); with ``message``, that
    one message."""
    decided = _latest_credit()
    credit = decisions.alias("credit_decision")
    exact = registry_addresses.alias("exact")
    domain = registry_addresses.alias("domain")
    rule = crediting.credit(COLUMNS, crediting.Facts(
        decision=credit.c.id, decided=credit.c.unit, state=messages.c.state,
        suspicious=messages.c.suspicious, machine=messages.c.not_credited,
        exact=exact.c.unit, domain=domain.c.unit))
    statement = select(
        messages.c.id.label("message"), rule.unit.label("unit"),
        rule.credited_by.label("credited_by"),
    ).select_from(
        messages.outerjoin(decided, decided.c.message == messages.c.id)
        .outerjoin(credit, credit.c.id == decided.c.decision)
        .outerjoin(exact, exact.c.address == messages.c.sender)
        .outerjoin(domain, domain.c.address == messages.c.sender_domain))
    if unit is not None:
        addresses = select(registry_addresses.c.address).where(registry_addresses.c.unit == unit)
        statement = statement.where(or_(
            messages.c.sender.in_(addresses), messages.c.sender_domain.in_(addresses),
            messages.c.id.in_(select(decisions.c.message).where(decisions.c.unit == unit))))
    if message is not None:
        statement = statement.where(messages.c.id == message)
    # Worked out once per message, then joined to the checks through their index (left to
    # itself, the planner repeats the message's joins for each of its files).
    return statement.cte("credit").prefix_with("MATERIALIZED")


def _judgement() -> Any:
    """A check's judgement (1 or 0), as a value of an UPDATE of ``checks``: the latest accept
    or reject decision on its content that is not undone, else the validator's verdict."""
    # The actions compared one by one: an IN list is rendered by SQLAlchemy at every
    # execution, which would keep intake's refresh of a message off the driver's cursor.
    latest = select(decisions.c.action).where(
        decisions.c.content == checks.c.content,
        or_(*(decisions.c.action == action for action in FILE_ACTIONS)),
        decisions.c.undone_at.is_(None)).order_by(decisions.c.id.desc()).limit(1) \
        .scalar_subquery()
    return case((latest == ACCEPT, 1), (latest == REJECT, 0), else_=checks.c.ok)


@functools.cache
def _one_message() -> tuple[Any, Any, Any, Any]:
    """Built once (intake refreshes every message it processes): the lock on the message
    bound as ``message_``, its credit, and the updates that store ``unit_`` as its and its
    checks'."""
    message, unit = bindparam("message_"), bindparam("unit_")
    credit = credit_query(message=message)
    return (hot(select(messages.c.id).where(messages.c.id == message).with_for_update()),
            hot(select(credit.c.unit)),
            hot(update(messages).where(messages.c.id == message).values(credit_unit=unit)),
            hot(update(checks).where(checks.c.message == message)
                .values(credit_unit=unit, judged_ok=_judgement())))


@functools.cache
def _accepted_counts() -> Any:
    """Distinct accepted contents per kind of the unit bound as ``unit``, from the credit
    columns (the ``checks_credit`` index covers it: its cost does not grow with what other
    units sent, nor with the decisions)."""
    return hot(select(checks.c.kind, func.count(func.distinct(checks.c.content)))
               .where(checks.c.credit_unit == bindparam("unit"), checks.c.judged_ok == 1)
               .group_by(checks.c.kind))


# --- the mixin ------------------------------------------------------------------------------


class Credit:
    """The registry, the credit columns kept in step with the rule, tallies and listings."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def sync_registry(self, units: Sequence[RegistryUnit]) -> None:
        """Make the registry tables the config's ``units[]`` (a no-op when unchanged). The
        first unit listing an address (or a domain) gets it, as intake's matching does."""
        fingerprint = hashlib.sha256(json.dumps(
            [[unit.key, unit.name, list(unit.addresses)] for unit in units],
            ensure_ascii=False).encode()).hexdigest()
        if self._registry_fingerprint() == fingerprint:
            return
        owners: dict[str, str] = {}
        for unit in units:
            for address in unit.addresses:
                owners.setdefault(address, unit.key)
        with self.session.transaction():
            # Several processes open the store at once (pollers, the console): one rewrites
            # the registry, the others find it done. SQLite's write lock already serialises
            # this; PostgreSQL needs the lock, or two inserts of the same keys collide.
            if self.session.dialect == "postgresql":
                self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                  {"key": REGISTRY_LOCK})
            if self._registry_fingerprint() == fingerprint:
                return
            self.session.execute(registry_addresses.delete())
            self.session.execute(registry_units.delete())
            if units:
                self.session.execute(registry_units.insert(), [
                    {"key": unit.key, "name": unit.name, "position": position}
                    for position, unit in enumerate(units)])
            if owners:
                self.session.execute(registry_addresses.insert(), [
                    {"address": address, "unit": key} for address, key in owners.items()])
            self.session.upsert(meta, ["key"], {"key": "registry", "value": fingerprint})
            self.refresh_credit()

    def _registry_fingerprint(self) -> str | None:
        row = self.session.one(select(meta.c.value).where(meta.c.key == "registry"))
        return None if row is None else str(row[0])

    # --- credit kept in columns -------------------------------------------------------

    def refresh_credit(self, message: int | None = None) -> None:
        """Bring the credit columns of ``message`` (or of every message) and its checks in
        step with the rule, in the caller's transaction. Call it after every write the rule
        reads: a message's state, authentication or machine verdict, a credit decision."""
        if message is not None:
            lock, credit_of, set_message, set_checks = _one_message()
            with self.session.transaction():
                # PostgreSQL: two writers refreshing one message (a poller's outcome, a
                # coordinator's credit) take turns, and the second reads the rule after the
                # first committed, so neither stores a result the other made stale.
                if self.session.dialect == "postgresql":  # SQLite's write lock serialises them
                    self.session.execute(lock, {"message_": message})
                unit = self.session.execute(credit_of, {"message_": message}).scalar()
                self.session.execute(set_message, {"message_": message, "unit_": unit})
                self.session.execute(set_checks, {"message_": message, "unit_": unit})
            return
        with self.session.transaction():
            if self.session.dialect == "postgresql":  # no message's credit changes meanwhile
                self.session.execute(text(
                    "LOCK TABLE messages, decisions IN SHARE ROW EXCLUSIVE MODE"))
            credit = credit_query()
            moved: dict[str | None, list[int]] = defaultdict(list)
            for ident, unit, stored in self.session.execute(
                    select(credit.c.message, credit.c.unit, messages.c.credit_unit)
                    .select_from(credit.join(messages, messages.c.id == credit.c.message))):
                if unit != stored:
                    moved[unit].append(int(ident))
            for unit, idents in moved.items():
                for start in range(0, len(idents), CHUNK):
                    chunk = idents[start:start + CHUNK]
                    self.session.execute(update(messages).where(messages.c.id.in_(chunk))
                                      .values(credit_unit=unit))
                    self.session.execute(update(checks).where(checks.c.message.in_(chunk))
                                      .values(credit_unit=unit))
            self.rejudge(true())

    def rejudge(self, which: Any) -> None:
        """``checks.judged_ok`` of the checks ``which`` selects, after the decisions. Their
        rows are locked first (PostgreSQL), so the update reads decisions committed by a
        concurrent judge of the same content (as for one message's credit above)."""
        self.session.execute(select(checks.c.id).where(which).with_for_update())
        self.session.execute(update(checks).where(which).values(judged_ok=_judgement()))

    def refresh_after_decision(self, action: str, message: int | None,
                                content: int | None) -> None:
        if action in MESSAGE_ACTIONS and message is not None:
            self.refresh_credit(message)
        elif action in FILE_ACTIONS and content is not None:
            self.rejudge(checks.c.content == content)

    # --- tallies ----------------------------------------------------------------------

    def unit_tallies(self, unit: str | None = None) -> dict[str, Tally]:
        """What each unit (or only ``unit``) has sent, by its key: two grouped queries, each
        over an index that covers it (the credit columns)."""
        counts: dict[str, dict[str, Any]] = {}
        for key, submissions, last in self.session.all(
                select(messages.c.credit_unit, func.count(), func.max(messages.c.received_at))
                .where(_credited(messages.c.credit_unit, unit))
                .group_by(messages.c.credit_unit)):
            counts[str(key)] = {"submissions": int(submissions), "last_submission": last}
        for key, *files in self.session.all(_files_per_unit(unit)):
            counts.setdefault(key, {}).update(zip(TALLY_FIELDS.values(), files, strict=True))
        return {key: Tally(**values) for key, values in counts.items()}

    def unit_tally(self, unit: str) -> Tally:
        return self.unit_tallies(unit).get(unit, Tally())

    def accepted_counts(self, unit: str) -> dict[str, int]:
        """How many distinct accepted files of each kind ``unit`` has (kinds it has none of
        are absent): one grouped query on the credit columns, built once (intake asks it for
        every reply, after the message's outcome refreshed its credit)."""
        return {str(kind): int(count)
                for kind, count in self.session.all(_accepted_counts(), {"unit": unit})}

    def unknown_senders_now(self) -> list[tuple[str, int]]:
        """Senders of processed mail credited to no unit (neither forged nor a machine) and
        not put aside, with how many messages each sent."""
        rows = self.session.all(
            select(messages.c.sender, func.count())
            .where(messages.c.credit_unit.is_(None), messages.c.suspicious.is_(None),
                   messages.c.not_credited.is_(None), messages.c.sender.is_not(None),
                   messages.c.state == PROCESSED, ~dismissed())
            .group_by(messages.c.sender).order_by(messages.c.sender))
        return [(str(sender), int(count)) for sender, count in rows]

    def unknown_senders(self) -> list[SenderCount]:
        """Senders of processed mail credited to no unit now (and neither forged nor a
        machine), with how many messages each sent."""
        return [SenderCount(sender, count) for sender, count in self.unknown_senders_now()]

    def credited_unit(self, message: int) -> str | None:
        credit = credit_query()
        row = self.session.one(select(credit.c.unit).where(credit.c.message == message))
        return row[0] if row else None

    def latest_unit_sender(self, unit: str) -> str | None:
        """The address ``unit``'s latest credited mail came from (for a domain-only unit)."""
        credit = credit_query(unit)
        row = self.session.one(
            select(messages.c.sender)
            .select_from(credit.join(messages, messages.c.id == credit.c.message))
            .where(credit.c.unit == unit, messages.c.sender.is_not(None),
                   messages.c.suspicious.is_(None), messages.c.not_credited.is_(None))
            .order_by(messages.c.id.desc()).limit(1))
        return str(row[0]) if row else None


def _files_per_unit(unit: str | None) -> Any:
    """(unit, then one count per :data:`TALLY_FIELDS`): the distinct contents of each credit
    unit, kind and judgement counted over the covering index ``checks_credit``, then turned
    into one row per unit in SQL (2,000 rows for the board, not 12,000)."""
    grouped = select(checks.c.credit_unit.label("unit"), checks.c.kind,
                     func.coalesce(checks.c.judged_ok, 0).label("judged_ok"),
                     func.count(func.distinct(checks.c.content)).label("files")) \
        .where(_credited(checks.c.credit_unit, unit)) \
        .group_by(checks.c.credit_unit, checks.c.kind, checks.c.judged_ok).subquery()
    return select(grouped.c.unit, *(
        cast(func.coalesce(func.sum(case(((grouped.c.kind == kind)
                                          & (grouped.c.judged_ok == int(ok)),
                                          grouped.c.files))), 0), Integer)
        for kind, ok in TALLY_FIELDS)).group_by(grouped.c.unit)


def _credited(column: Any, unit: str | None) -> Any:
    """``column`` (a credit_unit) names ``unit``, or any unit."""
    return column.is_not(None) if unit is None else column == unit
