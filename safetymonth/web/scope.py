"""What a console user may see: every unit, or one group's units (``user add --group``).

A 乡镇 or district coordinator corrects their own institutions and nobody else's, so each
route asks the visitor's :class:`Scope` about the unit, file, message or decision it shows;
anything outside it is 404 (it is not there, for them), whether looked at or decided on.
Mail credited to no unit belongs to a group when it came from one of its units' addresses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from safetymonth.config import Config, Unit
from safetymonth.storage.credit import DecisionRecord, FileView, MessageView
from safetymonth.web.auth import Visitor


@dataclass(frozen=True)
class Scope:
    group: str | None  # None: every unit
    keys: frozenset[str]  # the group's units' keys (unused for an unscoped visitor)
    addresses: frozenset[str]  # their exact addresses
    domains: frozenset[str]  # their whole domains (without the @)

    @property
    def everything(self) -> bool:
        return self.group is None

    def unit(self, key: str | None) -> bool:
        """A unit (by key) this visitor may see."""
        return self.everything or key in self.keys

    def sender(self, address: str | None) -> bool:
        """Mail from ``address`` when it is credited to no unit."""
        if self.everything:
            return True
        if not address:
            return False
        address = address.strip().lower()
        return address in self.addresses or address.rpartition("@")[2] in self.domains

    def message(self, view: MessageView) -> bool:
        return self.unit(view.unit) if view.unit is not None else self.sender(view.sender)

    def file(self, view: FileView) -> bool:
        return self.unit(view.unit) if view.unit is not None else self.sender(view.sender)

    def decision(self, record: DecisionRecord) -> bool:
        return self.everything or record.unit in self.keys

    def units(self, units: Iterable[Unit]) -> list[Unit]:
        return [unit for unit in units if self.unit(unit.key)]

    def rows(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Report or API rows of units (each with ``id``, the unit's key)."""
        return [row for row in rows if self.unit(row.get("id"))]

    def config(self, config: Config) -> Config:
        """``config`` with only this scope's units: what reminders plan and queue."""
        if self.everything:
            return config
        return config.model_copy(update={"units": self.units(config.units)})


def scope_of(config: Config, who: Visitor | None) -> Scope:
    """The visitor's scope: their group's units, or every unit."""
    group = who.group if who is not None else None
    if group is None:
        return Scope(None, frozenset(), frozenset(), frozenset())
    units = [unit for unit in config.units if unit.group == group]
    emails = [email for unit in units for email in unit.emails]
    return Scope(group, frozenset(unit.key for unit in units),
                 frozenset(email for email in emails if not email.startswith("@")),
                 frozenset(email[1:] for email in emails if email.startswith("@")))


def scoped_report(result: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """``report --json`` as a group's user may see it: its units, and of the lists of mail,
    only what came from its units' addresses; keys about the whole campaign (strangers,
    bounces) are left empty. Keys added later and not named here are dropped for a scoped
    user rather than shown whole."""
    if scope.everything:
        return result
    units = scope.rows(result["units"])
    names = {unit["name"] for unit in units}  # some lists name the unit, not its key

    def from_scope(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [item for item in items if scope.unit(item.get("unit"))
                or item.get("unit") in names or scope.sender(item.get("sender"))]

    return {
        "units": units,
        "unknown_senders": [],
        "suspicious": from_scope(result.get("suspicious", [])),
        "not_credited": from_scope(result.get("not_credited", [])),
        "not_sent": [unit["name"] for unit in units if unit["submissions"] == 0],
        "failed": from_scope(result.get("failed", [])),
        "unanswered": from_scope(result.get("unanswered", [])),
        "queued_replies": sum(unit.get("queued_replies", 0) for unit in units),
        "decisions": sum(unit.get("decisions", 0) for unit in units),
        "bounces": [],
        "groups": [row for row in result.get("groups", []) if row["id"] == scope.group],
        "unassigned": from_scope(result.get("unassigned", [])),
        "cloud_links": from_scope(result.get("cloud_links", [])),
    }
