"""``/u/{token}``: a unit's own page, opened by its upload link with no login (the console's
cookies play no part). It shows the unit's name, what it still owes, its own files with
their verdicts and an upload area (Uppy over tus, served from the package, in Chinese).
``/u/{token}/files`` is the small JSON the page polls for verdicts.

A wrong, rotated or expired token, or a link whose unit left ``units[]``, gets one and the
same 404 here and on the tus endpoint (:func:`gone`): nothing tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from safetymonth.config import Config, Unit
from safetymonth.mailbox.owing import lacking, owed_lines
from safetymonth.mailbox.replies import file_line, requirements
from safetymonth.report import local_time
from safetymonth.storage.repository import Repository
from safetymonth.storage.uploads import DONE, FAILED, FINISHED, OPEN, LinkRecord
from safetymonth.uploads.links import resolve
from safetymonth.uploads.worker import UploadWorker
from safetymonth.validator.messages import human_size
from safetymonth.web.deps import templates
from safetymonth.web.pool import RepositoryPool

router = APIRouter(include_in_schema=False)  # the units' page: no part of the console's /api

GONE_BODY = ("<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\">"
             "<title>链接无效</title><p>这个上传链接无效或已过期，请向活动办公室索取新的链接。</p>"
             "</html>").encode()
STATE_NAMES = {OPEN: "上传中（未完成）", FINISHED: "检查中", DONE: "已提交", FAILED: "未能提交"}


@dataclass(frozen=True)
class Scope:
    """What a request's token opens: its link, its unit, and the process's parts."""

    config: Config
    pool: RepositoryPool
    worker: UploadWorker
    link: LinkRecord
    unit: Unit


def gone(head: bool = False) -> Response:
    """The one 404 of every wrong, rotated or expired token."""
    return Response(b"" if head else GONE_BODY, status_code=404,
                    media_type="text/html; charset=utf-8",
                    headers={"Content-Length": str(len(GONE_BODY))} if head else None)


async def scope_of(request: Request, token: str) -> Scope | None:
    config: Config = request.app.state.config
    pool: RepositoryPool = request.app.state.pool
    found = await pool.run(lambda store: resolve(config, store, token))
    if found is None:
        return None
    link, unit = found
    return Scope(config, pool, request.app.state.uploads, link, unit)


@router.get("/u/{token}")
async def page(request: Request, token: str) -> Response:
    scope = await scope_of(request, token)
    if scope is None:
        return gone()
    state = await scope.pool.run(_unit_state, scope)
    html = templates.get_template("upload.html").render(
        config=scope.config, unit=scope.unit, token=token,
        requirements=requirements(scope.config.policy),
        max_size=human_size(scope.config.policy.max_file_size),
        max_bytes=scope.config.policy.max_file_size,
        expires=local_time(scope.link.expires_at, scope.config.campaign.timezone),
        missing=state["missing"], files=state["files"], uploads=state["uploads"])
    return HTMLResponse(html)


@router.get("/u/{token}/files")
async def files(request: Request, token: str) -> Response:
    scope = await scope_of(request, token)
    if scope is None:
        return gone()
    return JSONResponse(await scope.pool.run(_unit_state, scope))


def _unit_state(store: Repository, scope: Scope) -> dict[str, Any]:
    """The unit's own files and uploads (nothing of any other unit), and what it owes."""
    config, unit = scope.config, scope.unit
    scope.worker.sweep(store)
    zone = config.campaign.timezone
    # The uploads before the files: an upload read as done then has its files in the read
    # after it (one transaction recorded both), so the page never stops polling at a done
    # upload whose verdict it has not seen.
    held = store.unit_uploads(unit.key)
    views = store.file_views(unit.key)
    by_message: dict[int, list[dict[str, Any]]] = {}
    rows = []
    for view in views:
        line = file_line({**view.verdict, "ok": view.ok, "path": view.name,
                          "kind": view.kind})
        row = {"name": view.name, "source": view.source, "ok": view.ok,
               "summary": line.summary, "fixes": line.fixes,
               "received": local_time(view.received, zone)}
        rows.append(row)
        by_message.setdefault(view.message, []).append(row)
    uploads = []
    for upload in held:
        checked = by_message.get(upload.message or -1, [])
        uploads.append({
            "id": upload.id, "name": upload.name, "size": human_size(upload.length),
            "state": upload.state, "state_name": STATE_NAMES.get(upload.state, upload.state),
            "received": local_time(upload.created_at, zone), "error": upload.error,
            "ok": all(item["ok"] for item in checked) if checked else None,
            "verdicts": checked})
    return {"unit": unit.name, "missing": _still_owed(config, store, unit.key),
            "files": rows, "uploads": uploads}


def _still_owed(config: Config, store: Repository, key: str) -> list[str]:
    """What the unit still owes, as its page lists it: each deliverable with its deadline
    (已逾期 once past), or, with the ``completion:`` shorthand, the kinds it lacks."""
    names, still = lacking(config, store, key, datetime.now(UTC))
    if still is None:
        return names
    owed = owed_lines(still)
    return [f"{item['name']}（{'已逾期，' if item['overdue'] else ''}截止{item['deadline']}）"
            for item in owed]
