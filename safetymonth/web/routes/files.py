"""A stored file: its bytes (``/files/{id}``) and its thumbnail (``/files/{id}/thumb``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from safetymonth.storage.credit import FileView
from safetymonth.storage.repository import Repository
from safetymonth.web import downloads, thumbnails
from safetymonth.web.deps import Who, config, pool
from safetymonth.web.routes.common import NotFound, number, scope

router = APIRouter(include_in_schema=False)


def _locate(repository: Repository, file: int) -> tuple[FileView, Path] | None:
    """A file by its id, and where its bytes are stored."""
    found = repository.file_views(file=file)
    return (found[0], repository.path(found[0].stored_name)) if found else None


@router.get("/files/{ident}")
async def download(request: Request, ident: str, who: Who) -> Response:
    found = await pool(request).run(_locate, number(ident))
    if found is None or not scope(request, who).file(found[0]):
        raise NotFound()
    view, path = found
    return downloads.response(view, path, config(request).policy.max_file_size)


@router.get("/files/{ident}/thumb")
async def thumb(request: Request, ident: str, who: Who) -> Response:
    """A photo's or video's thumbnail (JPEG), made on first view in a limited process."""
    found = await pool(request).run(_locate, number(ident))
    if found is None or not scope(request, who).file(found[0]) \
            or not thumbnails.wanted(found[0]):
        raise NotFound()
    path = await run_in_threadpool(thumbnails.thumbnail, config(request), *found)
    if path is None:
        raise NotFound()
    return FileResponse(path, media_type="image/jpeg", headers={
        "content-disposition": downloads.disposition(True, f"{ident}.jpg"),
        "cache-control": "private, max-age=86400"})
