"""The statements intake runs for every message, run on the driver's cursor.

SQLAlchemy costs several times SQLite's own work for a small statement even when its
compiled form is cached (execution context, parameter processing, result metadata: ~13 µs
a statement on a quiet machine, against ~2 µs for the driver). A statement built once and
marked :func:`hot` is compiled by SQLAlchemy once per dialect and shape of its parameters
(the same SQL it would run), and then run on the connection's DBAPI cursor, inside the
transaction SQLAlchemy began: same SQL, same transaction, same errors (wrapped as
SQLAlchemy's :class:`~sqlalchemy.exc.DBAPIError`, which the session explains). A statement
whose compiled form needs SQLAlchemy at execution (type processing of a value or a result,
Python-side defaults, expanding ``IN`` lists, a value not given) is left to SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

_HOT: dict[int, Any] = {}  # id -> statement: module-level statements, alive for good


def hot(statement: Any) -> Any:
    """Mark a statement built once (at module level, or cached for good) to run on the
    driver's cursor; returns it unchanged."""
    _HOT[id(statement)] = statement
    return statement


def is_hot(statement: Any) -> bool:
    return id(statement) in _HOT


class Row(tuple):  # type: ignore[type-arg]
    """A result row as SQLAlchemy's is used here: by position, by name, ``_mapping``."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getattr__(self, name: str) -> Any:
        try:
            return self[type(self)._index[name]]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> dict[str, Any]:
        return dict(zip(type(self)._index, self, strict=True))


class Result:
    """The rows a hot statement returned (fetched at once), or how many it touched."""

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self.rows, self.rowcount = rows, rowcount

    def first(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def all(self) -> Sequence[Row]:
        return self.rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


class Compiled:
    """One statement's SQL for a dialect and a set of parameter names, with what the
    driver needs besides the caller's values (the literal values bound in it)."""

    def __init__(self, sql: str, names: list[str] | None, defaults: dict[str, Any],
                 columns: list[str] | None) -> None:
        self.sql, self.names, self.defaults = sql, names, defaults
        self.row = type("Row", (Row,), {"__slots__": (), "_index": {
            name: index for index, name in enumerate(columns)}}) if columns else None

    def run(self, conn: Connection, parameters: dict[str, Any]) -> Result:
        values: Any
        if self.names is None:  # named (PostgreSQL's pyformat)
            values = {**self.defaults, **parameters}
        else:  # positional (SQLite's qmark)
            defaults = self.defaults
            values = [parameters[name] if name in parameters else defaults[name]
                      for name in self.names]
        dbapi = conn.dialect.loaded_dbapi
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self.sql, values)
            rows = [self.row(row) for row in cursor.fetchall()] if self.row else []
            return Result(rows, cursor.rowcount)
        except dbapi.Error as error:
            raise DBAPIError.instance(self.sql, values, error, dbapi.Error,
                                      dialect=conn.dialect) from error
        finally:
            cursor.close()


def compile_hot(statement: Any, conn: Connection, keys: Sequence[str]) -> Compiled | None:
    """The statement compiled by SQLAlchemy for ``conn``'s dialect and parameters named
    ``keys``; None when running it needs SQLAlchemy (see the module's docstring)."""
    dialect = conn.dialect
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys))
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.post_compile_params \
            or compiled.literal_execute_params or compiled._bind_processors \
            or getattr(compiled, "_insertmanyvalues", None):
        return None
    defaults = {}
    for bind, name in compiled.bind_names.items():
        if bind.callable is not None:
            return None
        if name in keys:
            continue
        if bind.required:
            return None
        defaults[name] = bind.value
    columns = None
    if compiled._result_columns:
        if any(column[3].result_processor(dialect, None) is not None
               for column in compiled._result_columns):
            return None
        columns = [column[0] for column in compiled._result_columns]
    names = list(compiled.positiontup) if compiled.positional else None
    return Compiled(compiled.string, names, defaults, columns)
