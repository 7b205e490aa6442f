"""The console's ASGI app: routes, error pages, security headers, static files.

``create_app(config)`` is what ``safetymonth serve`` runs under uvicorn (and what tests
serve on a loopback port)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safetymonth.config import Config
from safetymonth.uploads.worker import UploadWorker
from safetymonth.web import api
from safetymonth.web.auth import Forbidden, LoginRequired
from safetymonth.web.deps import render
from safetymonth.web.limits import BodyLimit
from safetymonth.web.pool import RepositoryPool
from safetymonth.web.routes import ROUTERS
from safetymonth.web.routes.common import NotFound
from safetymonth.web.views import StoreCache

STATIC = Path(__file__).parent / "static"

# Served with every response: nothing from a mail may run as script, be sniffed into HTML, or
# frame this site.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
     b"frame-ancestors 'none'; form-action 'self'"),
]


# Paths whose responses a browser or proxy may keep: the script, the style sheet, the icon.
# Everything else (pages, /api/*, /files/*, /report.*) is a clerk's data behind a login.
CACHEABLE = ("/static/", "/favicon.ico")
NO_STORE = (b"cache-control", b"no-store")
# A unit's upload page and its tus endpoint: the token is in the path, so no address of it
# may leave in a Referer (not even to this site's own pages).
UNIT_PAGES = "/u/"
NO_REFERRER = (b"referrer-policy", b"no-referrer")


class SecurityHeaders:
    """A plain ASGI middleware (cheaper than BaseHTTPMiddleware on every page). Responses
    that set no ``Cache-Control`` of their own (a thumbnail keeps ``private``) get
    ``no-store``: a shared or back-button cache never holds a unit's files or the board."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        path = str(scope.get("path", ""))
        cacheable = path.startswith(CACHEABLE)
        security = [NO_REFERRER if name == b"referrer-policy" else (name, value)
                    for name, value in SECURITY_HEADERS] if path.startswith(UNIT_PAGES) \
            else SECURITY_HEADERS

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *security]
                if not cacheable and not any(name.lower() == b"cache-control"
                                             for name, _ in headers):
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(config: Config) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(app.state.uploads.start)
        yield
        app.state.uploads.close()
        app.state.pool.close()

    app = FastAPI(title="safetymonth console", version="1", docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan)
    app.state.config = config
    app.state.pool = RepositoryPool(config)
    app.state.uploads = UploadWorker(config, app.state.pool)
    app.state.cache = StoreCache()
    app.state.board_tables = {}  # (status, group) filter -> (board, its rendered table)
    app.state.board_rows = (None, {})  # (board, each of its rows -> the row's HTML)
    app.state.group_rows = (None, (None, []))  # (board, (the day, its group rows))
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # the outer one: a 413 gets the headers too
    _error_pages(app)
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _error: LoginRequired) -> Response:
        if _is_api(request) or request.method != "GET":
            return JSONResponse({"detail": "login required"}, status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": str(error)}, status_code=403)
        return render(request, "error.html", None, 403, message=str(error))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, _error: NotFound) -> Response:
        return _not_found(request)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 404 and not _is_api(request):
            return _not_found(request)
        return JSONResponse({"detail": error.detail}, status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> Response:
        return JSONResponse({"detail": "bad request"}, status_code=400)


def _not_found(request: Request) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": "not found"}, status_code=404)
    return render(request, "error.html", None, 404, message="没有找到这个页面或文件。")
