"""Who a message is credited to: the one rule, written once.

The latest credit (or add) decision on the message that is not undone names its unit; else,
for processed mail that passed authentication and was not written by a machine, the unit of
the registry listing the sender's exact address, else its ``@domain``.

Intake (:mod:`safetymonth.mailbox.triage`) evaluates it on Python values as a message comes in,
and the store (:func:`safetymonth.storage.credit.credit_query`) evaluates the very same
function on SQL columns to keep its credit columns for every message at once: :func:`credit`
is written over :class:`Terms`, and each side supplies its own (:data:`VALUES` here, SQL
expressions in the store). Neither side restates the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

PROCESSED = "processed"  # the message state credit by the registry needs
BY_DECISION, BY_REGISTRY = "decision", "registry"  # why a message is credited

T = TypeVar("T")


class Terms(Protocol[T]):
    """What the rule is built of, for one kind of value (Python values, SQL expressions)."""

    def first(self, *values: T) -> T:
        """The first of ``values`` that is not null."""
        ...

    def when(self, condition: T, value: T | str) -> T:
        """``value`` where ``condition`` holds, else null."""
        ...

    def present(self, value: T) -> T:
        """``value`` is not null."""
        ...

    def absent(self, value: T) -> T:
        """``value`` is null."""
        ...

    def equals(self, value: T, constant: str) -> T:
        ...

    def every(self, *conditions: T) -> T:
        ...


@dataclass(frozen=True)
class Facts(Generic[T]):
    """What the rule reads of one message."""

    decision: T  # its latest credit (or add) decision not undone (its id), else null
    decided: T  # that decision's unit (a key)
    state: T  # the message's state
    suspicious: T  # why its authentication failed, else null
    machine: T  # why a machine wrote it (RFC 3834), else null
    exact: T  # the unit (key) of the registry listing the sender's exact address
    domain: T  # the unit (key) listing the sender's @domain


@dataclass(frozen=True)
class Credit(Generic[T]):
    unit: T  # the unit's key, else null
    credited_by: T  # BY_DECISION, BY_REGISTRY, else null


def credit(terms: Terms[T], facts: Facts[T]) -> Credit[T]:
    """The rule: whom ``facts``' message is credited to, and why."""
    eligible = terms.every(terms.equals(facts.state, PROCESSED), terms.absent(facts.suspicious),
                           terms.absent(facts.machine))
    by_registry = terms.when(eligible, terms.first(facts.exact, facts.domain))
    return Credit(
        unit=terms.first(facts.decided, by_registry),
        credited_by=terms.first(terms.when(terms.present(facts.decision), BY_DECISION),
                                terms.when(terms.present(by_registry), BY_REGISTRY)))


class _Values:
    """:class:`Terms` on Python values (None is null)."""

    def first(self, *values: Any) -> Any:
        return next((value for value in values if value is not None), None)

    def when(self, condition: Any, value: Any) -> Any:
        return value if condition else None

    def present(self, value: Any) -> bool:
        return value is not None

    def absent(self, value: Any) -> bool:
        return value is None

    def equals(self, value: Any, constant: str) -> bool:
        return bool(value == constant)

    def every(self, *conditions: Any) -> bool:
        return all(conditions)


VALUES: Terms[Any] = _Values()


def credited_unit(facts: Facts[Any]) -> str | None:
    """The rule on Python values: the key of the unit credited, else None."""
    unit = credit(VALUES, facts).unit
    return None if unit is None else str(unit)
