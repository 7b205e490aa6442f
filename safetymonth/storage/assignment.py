"""Which deliverable each file counts for, kept in ``checks.deliverable``: the repository's
assignment part.

The rule is :func:`safetymonth.assigning.assign` (file name, then subject, then the
catch-all), evaluated in Python for each file as it is recorded and, when the deliverables of
the config change (ids, kinds or match words: a fingerprint in ``meta``), for every file
again, as the registry does for credit. An ``assign`` decision on a file's content that is not
undone overrides the rule for every copy of that content. The report then counts accepted
files per unit and deliverable in one grouped query; when a file was received (against each
deliverable's deadline) is read at that time, so a changed deadline needs no rewrite.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select, true, update

from safetymonth.assigning import assign
from safetymonth.deliverables import Deliverable
from safetymonth.storage.hot import hot
from safetymonth.storage.records import ASSIGN
from safetymonth.storage.schema import checks, decisions, messages, meta
from safetymonth.storage.session import Session

FINGERPRINT_KEY = "deliverables"
CHUNK = 500  # ids per IN (...), under SQLite's variable limit
KINDS = ("document", "photo", "video")  # what a deliverable may take


def _credited(keys: Sequence[str] | None) -> Any:
    """Credited to a unit (or group), or to one of ``keys``."""
    if keys is None:
        return checks.c.credit_unit.is_not(None)
    return checks.c.credit_unit.in_(list(keys))


def _counted(keys: Sequence[str] | None) -> Any:
    """An accepted file counting for a deliverable, credited to a unit (or one of ``keys``)."""
    return and_(_credited(keys), checks.c.judged_ok == 1, checks.c.deliverable.is_not(None))


def _active_assign() -> Any:
    return and_(decisions.c.action == ASSIGN, decisions.c.undone_at.is_(None))


# The assign decisions' deliverable for a file's content (the latest not undone), and the
# statements intake runs for every message, built once (SQLAlchemy keys and compiles each
# once per dialect): a new file's deliverable by the rule is written with its row
# (:meth:`Assignments.rule`), then the decisions go over the message's files.
_DECIDED = select(decisions.c.deliverable).where(
    decisions.c.content == checks.c.content, _active_assign()) \
    .order_by(decisions.c.id.desc()).limit(1).scalar_subquery()
_DECIDED_FOR_MESSAGE = hot(update(checks).where(
    checks.c.message == bindparam("message_"),
    checks.c.content.in_(select(decisions.c.content).where(_active_assign())))
    .values(deliverable=_DECIDED))
_SUBJECT = hot(select(messages.c.subject).where(messages.c.id == bindparam("message_")))
_FORGET_FINGERPRINT = meta.delete().where(meta.c.key == FINGERPRINT_KEY)


class Assignments:
    def __init__(self, session: Session) -> None:
        self.session = session
        # None until synced from a config: files recorded meanwhile are assigned on the next
        # sync (the fingerprint is dropped so that it cannot be skipped).
        self.deliverables: tuple[Deliverable, ...] | None = None

    def sync_deliverables(self, deliverables: Sequence[Deliverable]) -> None:
        """Assign every file again when the rule's inputs changed since the store last did."""
        self.deliverables = tuple(deliverables)
        fingerprint = hashlib.sha256(json.dumps(
            [[item.id, list(item.kinds), item.match] for item in deliverables],
            ensure_ascii=False).encode()).hexdigest()
        if self._fingerprint() == fingerprint:
            return
        with self.session.transaction():
            self.assign_files(true())
            self.session.upsert(meta, ["key"], {"key": FINGERPRINT_KEY, "value": fingerprint})

    def _fingerprint(self) -> str | None:
        row = self.session.one(select(meta.c.value).where(meta.c.key == FINGERPRINT_KEY))
        return None if row is None else str(row[0])

    def assign_files(self, which: Any) -> None:
        """``checks.deliverable`` of the files ``which`` selects: the rule, then the assign
        decisions over it (in the caller's transaction)."""
        if self.deliverables is None:
            self.session.execute(_FORGET_FINGERPRINT)
            return
        chosen: dict[str | None, list[int]] = defaultdict(list)
        for ident, kind, path, subject, stored in self.session.all(
                select(checks.c.id, checks.c.kind, checks.c.path, messages.c.subject,
                       checks.c.deliverable)
                .select_from(checks.join(messages, messages.c.id == checks.c.message))
                .where(which)):
            deliverable = assign(kind, path, subject, self.deliverables)
            if deliverable != stored:
                chosen[deliverable].append(int(ident))
        for deliverable, idents in chosen.items():
            for start in range(0, len(idents), CHUNK):
                self.session.execute(update(checks).where(
                    checks.c.id.in_(idents[start:start + CHUNK])).values(deliverable=deliverable))
        self.session.execute(update(checks).where(
            which, checks.c.content.in_(select(decisions.c.content).where(_active_assign())))
            .values(deliverable=_DECIDED))

    def subject(self, message: int) -> str | None:
        """The subject the rule reads for ``message``'s files (as stored)."""
        row = self.session.execute(_SUBJECT, {"message_": message}).first()
        return None if row is None else row[0]

    def rule(self, kind: str, path: str, subject: str | None) -> str | None:
        """A new file's deliverable by the rule, written with its row; None before the
        store is synced from a config (:meth:`assign_new_files` then forgets the
        fingerprint, so that the next sync assigns every file)."""
        if self.deliverables is None:
            return None
        return assign(kind, path, subject, self.deliverables)

    def assign_new_files(self, message: int) -> None:
        """After ``message``'s files were inserted with :meth:`rule`'s deliverable: the
        assign decisions over it (in the caller's transaction). What :meth:`assign_files`
        does for them, in one statement built once instead of three built per call."""
        if self.deliverables is None:
            self.session.execute(_FORGET_FINGERPRINT)
            return
        self.session.execute(_DECIDED_FOR_MESSAGE, {"message_": message})

    def reassign_content(self, content: int) -> None:
        """After an assign decision on ``content`` or its undo."""
        self.assign_files(checks.c.content == content)

    # --- reads for the report ---------------------------------------------------------

    def deliverable_counts(self, cutoffs: dict[str, str], keys: Sequence[str] | None = None
                           ) -> dict[tuple[str, str], tuple[int, int]]:
        """Per (credited unit, deliverable): distinct accepted contents, and those of them
        received before the deliverable's cutoff (``cutoffs``: id → UTC ISO time, the end of
        its deadline's day). ``keys``: only these credit keys (a reply's unit)."""
        if not cutoffs:
            return {}
        on_time = case(*((and_(checks.c.deliverable == ident, messages.c.received_at < cutoff),
                          checks.c.content) for ident, cutoff in cutoffs.items()))
        rows = self.session.all(
            select(checks.c.credit_unit, checks.c.deliverable,
                   func.count(func.distinct(checks.c.content)),
                   func.count(func.distinct(on_time)))
            .select_from(checks.join(messages, messages.c.id == checks.c.message))
            .where(_counted(keys)).group_by(checks.c.credit_unit, checks.c.deliverable))
        return {(str(unit), str(ident)): (int(accepted), int(early))
                for unit, ident, accepted, early in rows}

    def accepted_contents(self, deliverables: Sequence[str], keys: Sequence[str] | None = None
                          ) -> list[tuple[str, str, int, str]]:
        """(credited unit, deliverable, content, first received) of every accepted file
        counting for one of ``deliverables`` (a group's: its units' copies count once)."""
        if not deliverables:
            return []
        return [(str(unit), str(ident), int(content), str(first)) for unit, ident, content, first
                in self.session.all(
                    select(checks.c.credit_unit, checks.c.deliverable, checks.c.content,
                           func.min(messages.c.received_at))
                    .select_from(checks.join(messages, messages.c.id == checks.c.message))
                    .where(_credited(keys), checks.c.judged_ok == 1,
                           checks.c.deliverable.in_(list(deliverables)))
                    .group_by(checks.c.credit_unit, checks.c.deliverable, checks.c.content))]

    def unassigned_files(self, unit_owed: Sequence[str] = (),
                         group_prefix: str = "") -> list[tuple[int, str, str]]:
        """(file id, credited unit, name) of the accepted files credited to a unit that count
        for no deliverable, oldest first; and those credited to a group (its key starts with
        ``group_prefix``) counted for one of ``unit_owed``, which a group does not owe."""
        nothing = checks.c.deliverable.is_(None)
        if unit_owed and group_prefix:
            nothing = or_(nothing, and_(checks.c.credit_unit.startswith(group_prefix),
                                        checks.c.deliverable.in_(list(unit_owed))))
        return [(int(ident), str(unit), str(path)) for ident, unit, path in self.session.all(
            select(checks.c.id, checks.c.credit_unit, checks.c.path)
            .where(checks.c.credit_unit.is_not(None), checks.c.judged_ok == 1, nothing,
                   checks.c.kind.in_(KINDS))
            .order_by(checks.c.id))]

    def file_deliverables(self, files: Sequence[int]) -> dict[int, str | None]:
        """The deliverable each of ``files`` counts for (for the console's select)."""
        found: dict[int, str | None] = {}
        for start in range(0, len(files), CHUNK):
            for ident, deliverable in self.session.all(
                    select(checks.c.id, checks.c.deliverable)
                    .where(checks.c.id.in_(list(files[start:start + CHUNK])))):
                found[int(ident)] = deliverable
        return found
