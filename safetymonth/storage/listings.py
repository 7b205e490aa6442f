"""Messages and files as ``messages``, ``files`` and the console list them: each with the
unit credited now (:func:`~safetymonth.storage.credit.credit_query`) and, for a file, the
judgement after the decisions next to the validator's verdict."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from safetymonth.storage.credit import credit_query, one_of
from safetymonth.storage.records import (
    ACCEPT,
    ADD,
    FILE_ACTIONS,
    REJECT,
    FileView,
    MessageView,
    file_view,
    message_view,
)
from safetymonth.storage.schema import attachments, checks, decisions, messages
from safetymonth.storage.session import Session


def _judged() -> tuple[Any, Any, Any]:
    """The checks with their judgement: (the join, the effective ok expression, the judging
    decision's table). The checks of ``attachments`` are included."""
    latest = select(decisions.c.content, func.max(decisions.c.id).label("decision")) \
        .where(one_of(decisions.c.action, FILE_ACTIONS), decisions.c.undone_at.is_(None)) \
        .group_by(decisions.c.content).subquery("judged")
    judgement = decisions.alias("judgement")
    joined = checks.outerjoin(latest, latest.c.content == checks.c.content) \
        .outerjoin(judgement, judgement.c.id == latest.c.decision)
    ok = case((judgement.c.action == ACCEPT, 1), (judgement.c.action == REJECT, 0),
              else_=checks.c.ok)
    return joined, ok, judgement


class Listings:
    def __init__(self, session: Session) -> None:
        self.session = session

    def message_views(self, unit: str | None = None,
                      message: int | None = None) -> list[MessageView]:
        """Every message (or ``unit``'s, or the one ``message``), oldest first, with its
        credit now; files added by hand whose add was undone are left out."""
        credit = credit_query(unit)
        # Counted per listed message through the checks' index (checks.message is the
        # attachment's message): a grouped count of every file in the store would cost a
        # unit's page a scan of 100,000 checks.
        files = select(func.count()).select_from(checks) \
            .where(checks.c.message == messages.c.id).scalar_subquery()
        undone_add = select(decisions.c.message).where(
            decisions.c.action == ADD, decisions.c.undone_at.is_not(None))
        statement = select(messages, credit.c.unit.label("credited_unit"), credit.c.credited_by,
                           files.label("file_count")) \
            .select_from(credit.join(messages, messages.c.id == credit.c.message)) \
            .where(messages.c.id.not_in(undone_add)).order_by(messages.c.id)
        if unit is not None:
            statement = statement.where(credit.c.unit == unit)
        if message is not None:
            statement = statement.where(messages.c.id == message)
        return [message_view(row) for row in self.session.all(statement)]

    def file_views(self, unit: str | None = None, failed: bool = False,
                   file: int | None = None) -> list[FileView]:
        """Checked files (zip members each on their own), oldest first, with the verdict
        and the judgement after decisions; ``failed``: only those not accepted now."""
        credit = credit_query(unit)
        joined, ok, judgement = _judged()
        statement = select(
            checks.c.id, checks.c.path, checks.c.kind, checks.c.ok.label("verdict_ok"),
            checks.c.member,
            ok.label("ok"), attachments.c.id.label("attachment"),
            attachments.c.message, attachments.c.name.label("attachment_name"),
            attachments.c.stored_name, attachments.c.sha256, attachments.c.size,
            attachments.c.verdict, credit.c.unit, messages.c.sender,
            messages.c.received_at, messages.c.source_key, judgement.c.action.label("decision"),
            judgement.c.id.label("decision_id"), judgement.c.reason,
        ).select_from(credit.join(messages, messages.c.id == credit.c.message)
                      .join(joined, checks.c.message == messages.c.id)
                      .join(attachments, attachments.c.id == checks.c.attachment))
        if unit is not None:
            # A unit's files from its messages through the checks' index: ordered by the
            # bare id, SQLite would rather walk all 100,000 checks in id order.
            statement = statement.where(credit.c.unit == unit).order_by(checks.c.id + 0)
        else:
            statement = statement.order_by(checks.c.id)
        if failed:
            statement = statement.where(ok == 0)
        if file is not None:
            statement = statement.where(checks.c.id == file)
        return [file_view(row) for row in self.session.all(statement)]
