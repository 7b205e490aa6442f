"""Hot statements (storage/hot.py) run on the driver's cursor inside the session's transaction:
the same rows, counts and errors as through SQLAlchemy, on both engines; one that needs
SQLAlchemy at execution goes through it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, event, select, update
from sqlalchemy.exc import IntegrityError

from safetymonth.storage.hot import hot
from safetymonth.storage.repository import Received, Repository
from safetymonth.storage.schema import messages, source_keys

_BY_ID = hot(select(messages).where(messages.c.id == bindparam("m")))
_SUBJECT_TO = hot(update(messages).where(messages.c.sender == bindparam("who"))
                  .values(subject=bindparam("to")))
_KEY = hot(source_keys.insert())
_ANY_OF = hot(select(messages.c.id).where(messages.c.id.in_(bindparam("ids", expanding=True)))
              .order_by(messages.c.id))


@pytest.fixture
def store(tmp_path: Path, engine: str | None) -> Any:
    with Repository(tmp_path / "storage", engine) as repository:
        yield repository


def _record(store: Repository, index: int, sender: str) -> int:
    return store.record_received(f"maildir:{index}", Received(
        sha256=f"{index:064x}", size=index, message_id=None, sender=sender,
        sender_name="张三", subject="材料", date_header=None)).message


def _statements(store: Repository) -> list[str]:
    """The statements SQLAlchemy sends to the driver from now on (but SQLite's BEGIN)."""
    seen: list[str] = []

    def sent(conn: Any, cursor: Any, sql: str, *rest: Any) -> None:
        if not sql.startswith("BEGIN"):
            seen.append(sql)

    event.listen(store.conn, "before_cursor_execute", sent)
    return seen


def test_rows_and_counts_are_sqlalchemys_without_sqlalchemy(store: Repository) -> None:
    one, two = _record(store, 1, "a@x.cn"), _record(store, 2, "a@x.cn")
    _record(store, 3, "b@x.cn")
    expected = store.conn.execute(_BY_ID, {"m": two}).first()
    store.session.end_read()
    assert expected is not None
    seen = _statements(store)
    with store.session.transaction():
        row = store.session.execute(_BY_ID, {"m": two}).first()
        assert row is not None and row._mapping == expected._mapping
        assert (row.id, row.sender, row[0]) == (two, "a@x.cn", two)
        assert store.session.execute(_BY_ID, {"m": 999}).first() is None
        assert store.session.execute(_SUBJECT_TO, {"who": "a@x.cn", "to": "新"}).rowcount == 2
    assert seen == []  # none of them went through SQLAlchemy
    assert [(record.id, record.subject) for record in store.messages()] == [
        (one, "新"), (two, "新"), (two + 1, "材料")]


def test_a_failing_hot_statement_raises_and_rolls_back_as_sqlalchemy_does(
        store: Repository) -> None:
    message = _record(store, 1, "a@x.cn")
    with pytest.raises(IntegrityError), store.session.transaction():
        store.session.execute(_SUBJECT_TO, {"who": "a@x.cn", "to": "改"})
        store.session.execute(_KEY, {"key": "maildir:1", "message": message,
                                     "seen_at": "2026-12-07T00:00:00+00:00"})
    record = store.message(message)
    assert record is not None and record.subject == "材料"  # the update was undone


def test_a_statement_that_needs_sqlalchemy_goes_through_it(store: Repository) -> None:
    ids = [_record(store, index, "a@x.cn") for index in range(3)]
    seen = _statements(store)
    with store.session.transaction():
        rows = store.session.execute(_ANY_OF, {"ids": [ids[2], ids[0]]}).all()
    assert [row.id for row in rows] == [ids[0], ids[2]]
    assert len(seen) == 1  # the IN list is rendered by SQLAlchemy at execution
