"""What needs no login and belongs to no resource: the health check and the tab's icon."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, PlainTextResponse

router = APIRouter(include_in_schema=False)
FAVICON = Path(__file__).parent.parent / "static" / "favicon.ico"


@router.get("/healthz")
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """The tab's icon, where every browser asks for it (no login: it shows on /login)."""
    return FileResponse(FAVICON, media_type="image/vnd.microsoft.icon",
                        headers={"cache-control": "public, max-age=604800"})
