"""A cap on the body of every POST but an upload, enforced before anything parses it.

Parsing a form costs CPU per byte (a login of 20 MB of ``&`` took 8 s before its 403), so the
body is read here, counted as it streams (a chunked body has no Content-Length to trust),
and refused with 413 once it passes the cap; the route then reads the buffered body. The
upload of files received outside mail streams to disk under its own limit
(:mod:`safetymonth.web.uploads`) and is left alone.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_FORM_BYTES = 64 * 1024
# The documents form carries whole notices and the letters' unit list (rows); its fields
# have bounds of their own (docgen.models).
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
UPLOAD_PATH = re.compile(r"^/units/[^/]+/add$|^/roster/preview$")  # each streams, bounded
# A tus PATCH streams its body to disk, bounded by its upload's Upload-Length
# (safetymonth.web.routes.tus).
TUS_PATCH = re.compile(r"^/u/[^/]+/tus/[^/]+$")
DOCUMENT_PATH = re.compile(r"^/documents/[a-z]+$")
BODYLESS = {"GET", "HEAD", "OPTIONS"}


class BodyTooLarge(Exception):
    """The body passed the cap while it was read."""


def limit_for(method: str, path: str) -> int | None:
    """The cap for a request, or None when it is not capped here."""
    if method in BODYLESS or UPLOAD_PATH.match(path) or \
            (method == "PATCH" and TUS_PATCH.match(path)):
        return None
    return MAX_DOCUMENT_BYTES if DOCUMENT_PATH.match(path) else MAX_FORM_BYTES


class BodyLimit:
    """Plain ASGI middleware: buffer a capped body (at most the cap) before the app runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = limit_for(scope.get("method", ""), scope.get("path", "")) \
            if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        try:
            declared = _content_length(scope)
            if declared is not None and declared > limit:
                raise BodyTooLarge()
            body = await _read(receive, limit)
        except BodyTooLarge:
            await _too_large(send, limit)
            return
        await self.app(scope, _replay(body, receive), send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise BodyTooLarge() from None  # unreadable: refused, not guessed
    return None


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or BodyTooLarge; None when the client went away."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes | None, receive: Receive) -> Receive:
    """A ``receive`` that gives the buffered body once, then what the server says."""
    pending = [] if body is None else [body]

    async def replayed() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        if body is None:
            return {"type": "http.disconnect"}
        return await receive()

    return replayed


async def _too_large(send: Send, limit: int) -> None:
    text = f"请求内容过大：超过 {limit // 1024} KB 的上限，未作处理。".encode()
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(text)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": text})
