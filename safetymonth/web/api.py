"""The JSON API, relied on by scripts: ``/api/report`` is ``report --json`` (each unit with its
``id``); ``/api/messages`` and ``/api/files`` mirror ``messages --json`` and ``files --json``.
Its OpenAPI schema is at ``/api/openapi.json``; like every page, it needs a session."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from safetymonth.config import Config
from safetymonth.report import report_from_repository
from safetymonth.storage.overview import Overview
from safetymonth.storage.repository import Repository
from safetymonth.web import views
from safetymonth.web.deps import Who, config, pool

router = APIRouter(prefix="/api")


class MessageOut(BaseModel):
    id: int
    message_id: str | None
    sender: str | None
    unit: str | None
    subject: str | None
    received: str
    state: str
    suspicious: str | None
    not_credited: str | None


class FileOut(BaseModel):
    id: int
    message: int
    unit: str | None
    name: str
    size: int
    kind: str
    format: str | None
    width: int | None
    height: int | None
    ok: bool  # the judgement after decisions
    verdict_ok: bool  # the validator's
    decision: str | None
    reasons: list[str]


def _unit_name(settings: Config, ident: str | None) -> str | None:
    if ident is None:
        return None
    found = views.find_unit(settings, ident)
    if found is None:
        raise HTTPException(404, f"no unit {ident!r}")
    return found.name


@router.get("/report")
async def report(request: Request, _who: Who) -> dict[str, Any]:
    return await pool(request).run(report_from_repository, config(request))


@router.get("/messages")
async def messages(request: Request, _who: Who,
                   unit: str | None = None) -> list[MessageOut]:
    name = _unit_name(config(request), unit)

    def load(repository: Repository) -> list[MessageOut]:
        overview = Overview(repository)
        records = overview.unit_messages(name) if name else repository.messages()
        return [MessageOut(id=item.id, message_id=item.message_id, sender=item.sender,
                           unit=item.unit, subject=item.subject, received=item.received_at,
                           state=item.state, suspicious=item.suspicious,
                           not_credited=item.not_credited)
                for item in sorted(records, key=lambda item: item.id)]

    return await pool(request).run(load)


@router.get("/files")
async def files(request: Request, _who: Who, unit: str | None = None,
                failed: bool = False) -> list[FileOut]:
    name = _unit_name(config(request), unit)

    def load(repository: Repository) -> list[FileOut]:
        found = []
        for record, message in Overview(repository).files(name):
            view = views.file_view(record)
            if failed and view.ok:
                continue
            found.append(FileOut(
                id=view.id, message=record.message, unit=message.unit, name=view.name,
                size=view.size, kind=view.kind, format=view.format, width=view.width,
                height=view.height, ok=view.ok, verdict_ok=view.ok, decision=None,
                reasons=view.reasons))
        return found

    return await pool(request).run(load)


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, _who: Who) -> dict[str, Any]:
    return request.app.openapi()  # type: ignore[no-any-return]
