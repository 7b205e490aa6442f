"""Coordinators' decisions in the store: a credit, an add, a dismiss on a message, an accept
or reject on a file's content, each undoable. Recording or undoing one brings the credit
columns along in its transaction (:meth:`~safetymonth.storage.credit.Credit.
refresh_after_decision`): the rule reads the decisions."""

from __future__ import annotations

from sqlalchemy import func, select, update

from safetymonth.storage.assignment import Assignments
from safetymonth.storage.credit import Credit
from safetymonth.storage.records import ASSIGN, DecisionRecord
from safetymonth.storage.schema import checks, decisions
from safetymonth.storage.session import Session


class Decisions:
    def __init__(self, session: Session, credit: Credit,
                 assignments: Assignments) -> None:
        self.session = session
        self.credit = credit
        self.assignments = assignments

    def record_decision(self, action: str, reason: str, by: str, at: str,
                        message: int | None = None, file: int | None = None,
                        unit: str | None = None, deliverable: str | None = None) -> int:
        """Store one decision (inside the caller's transaction, if any); returns its id. A
        decision on a file keeps the file's content id: it holds for every copy. An assign
        decision names the ``deliverable`` the file counts for."""
        with self.session.transaction():
            content = None if file is None else self.session.execute(
                select(checks.c.content).where(checks.c.id == file)).scalar()
            result = self.session.execute(decisions.insert().values(
                action=action, message=message, file=file, content=content, unit=unit,
                deliverable=deliverable, reason=reason, by=by, at=at))
            self._follow(action, message, content)
            return int(result.inserted_primary_key[0])

    def decision(self, decision: int) -> DecisionRecord | None:
        row = self.session.one(select(decisions).where(decisions.c.id == decision))
        return DecisionRecord(**row._mapping) if row else None

    def decisions(self) -> list[DecisionRecord]:
        """Every decision, undone ones too, oldest first."""
        return [DecisionRecord(**row._mapping)
                for row in self.session.all(select(decisions).order_by(decisions.c.id))]

    def undo_decision(self, decision: int, by: str, at: str) -> bool:
        """Mark a decision undone; False when it was undone already (or does not exist)."""
        with self.session.transaction():
            undone = self.session.execute(update(decisions).where(
                decisions.c.id == decision, decisions.c.undone_at.is_(None))
                .values(undone_at=at, undone_by=by)
                .returning(decisions.c.action, decisions.c.message, decisions.c.content)).first()
            if undone is not None:
                self._follow(*undone)
            return undone is not None

    def _follow(self, action: str, message: int | None, content: int | None) -> None:
        """What a decision changes follows it in its transaction: credit, judgement or the
        deliverable its file counts for."""
        if action == ASSIGN and content is not None:
            self.assignments.reassign_content(content)
        else:
            self.credit.refresh_after_decision(action, message, content)

    def active_decisions(self) -> int:
        row = self.session.one(select(func.count()).where(decisions.c.undone_at.is_(None)))
        return int(row[0]) if row else 0

    def active_decisions_by_unit(self) -> dict[str, int]:
        """How many decisions not undone concern each unit (by its key)."""
        return {str(unit): int(count) for unit, count in self.session.all(
            select(decisions.c.unit, func.count()).where(
                decisions.c.undone_at.is_(None), decisions.c.unit.is_not(None))
            .group_by(decisions.c.unit))}
