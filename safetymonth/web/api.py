"""The JSON API, relied on by scripts: ``/api/report`` is ``report --json`` (each unit with its
``id``); ``/api/messages``, ``/api/files`` and ``/api/history`` are ``messages --json``,
``files --json`` and ``history --json``, built by the same functions. Its OpenAPI schema is at
``/api/openapi.json``; like every page, it needs a session."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict

from safetymonth import decisions
from safetymonth.web import views
from safetymonth.web.auth import Visitor
from safetymonth.web.deps import Who, config, pool
from safetymonth.web.scope import scope_of, scoped_report

router = APIRouter(prefix="/api")


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow")  # more keys may be added, as in the CLI's JSON


class MessageRow(_Row):
    id: int
    message_id: str | None
    sender: str | None
    unit: str | None
    unit_id: str | None
    subject: str | None
    received: str
    state: str
    source: str  # mail, added (by hand) or upload (a unit's upload link)


class Reason(BaseModel):
    code: str
    message: str


class FileRow(_Row):
    id: int
    message: int
    unit: str | None
    unit_id: str | None
    name: str
    kind: str
    format: str | None
    width: int | None
    height: int | None
    ok: bool  # the judgement after decisions
    verdict_ok: bool  # the validator's
    decision: str | None
    reasons: list[Reason]
    size: int
    source: str  # its message's: mail, added or upload


class DecisionRow(_Row):
    id: int
    action: str
    target: int | None
    unit: str | None
    reason: str
    by: str
    at: str
    undone_at: str | None


class UnitRow(_Row):
    id: str
    name: str
    submissions: int
    complete: bool
    last_submission: str | None


class Report(_Row):
    units: list[UnitRow]
    unknown_senders: list[dict[str, Any]]
    suspicious: list[dict[str, Any]]


def _unit(request: Request, who: Visitor, unit: str | None) -> str | None:
    """``?unit=`` as given (an id or a name), or 404 when no unit has it (or it is outside
    the visitor's group)."""
    found = views.find_unit(config(request), unit) if unit is not None else None
    if unit is not None and (found is None or not scope_of(config(request), who).unit(found.key)):
        raise HTTPException(404, "no such unit")
    return unit


def _scoped(request: Request, who: Visitor, rows: list[dict[str, Any]],
            key: str) -> list[dict[str, Any]]:
    """Rows whose unit (``key``: the unit id's field) is in the visitor's group; mail
    credited to no unit, when it came from the group's addresses."""
    seen = scope_of(config(request), who)
    if seen.everything:
        return rows
    return [row for row in rows if seen.unit(row.get(key))
            or (row.get(key) is None and seen.sender(row.get("sender")))]


@router.get("/report", response_model=Report)
async def report(request: Request, who: Who) -> dict[str, Any]:
    result = await pool(request).run(request.app.state.cache.report, config(request))
    return scoped_report(result, scope_of(config(request), who))


@router.get("/messages", response_model=list[MessageRow])
async def messages(request: Request, who: Who, unit: str | None = None) -> list[dict[str, Any]]:
    rows = await pool(request).run(
        lambda repository: decisions.message_rows(config(request), repository,
                                                  _unit(request, who, unit)))
    return _scoped(request, who, rows, "unit_id")


@router.get("/files", response_model=list[FileRow])
async def files(request: Request, who: Who, unit: str | None = None,
                failed: bool = False) -> list[dict[str, Any]]:
    rows = await pool(request).run(
        lambda repository: decisions.file_rows(config(request), repository,
                                               _unit(request, who, unit), failed))
    return _scoped(request, who, rows, "unit_id")


@router.get("/history", response_model=list[DecisionRow])
async def history(request: Request, who: Who) -> list[dict[str, Any]]:
    rows = await pool(request).run(
        lambda repository: decisions.history_rows(config(request), repository))
    seen = scope_of(config(request), who)
    return rows if seen.everything else [row for row in rows if seen.unit(row.get("unit_id"))]


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, _who: Who) -> dict[str, Any]:
    return request.app.openapi()  # type: ignore[no-any-return]
