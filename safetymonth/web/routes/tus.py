"""``/u/{token}/tus/``: a unit's uploads over tus 1.0.0 (see :mod:`safetymonth.uploads.tus`).

Every request is scoped to the token's unit: an upload of another unit, a wrong, rotated or
expired token all get the same 404 as the unit's page. Limits are checked before a byte is
stored (413: the file over ``policy.max_file_size`` or over the unit's quota, counting its
unfinished uploads; 429: too many creations per link and hour). A PATCH streams its body to
the upload's file (never whole in memory), fsyncs it, then records the offset; the last byte
hands the upload to the background worker, which validates and records it.
"""

from __future__ import annotations

import errno
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from safetymonth.config import Config
from safetymonth.storage.repository import Repository
from safetymonth.storage.session import now
from safetymonth.storage.uploads import DONE, FINISHED, OPEN, UploadRecord
from safetymonth.uploads import partial, tus
from safetymonth.uploads.links import stamp
from safetymonth.validator.messages import human_size
from safetymonth.web.routes.unit_page import Scope, gone, scope_of


class _Answered(Exception):
    """Raised by a dependency: send ``response`` instead of calling the handler."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class _TusRoute(APIRoute):
    """A route whose dependencies may answer the request themselves (:class:`_Answered`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except _Answered as answered:
                return answered.response

        return answer


router = APIRouter(include_in_schema=False,  # the units' page: no part of the console's /api
                   route_class=_TusRoute)
CREATIONS_PER_HOUR = 30


def _expires(config: Config, touched_at: str) -> str:
    moment = datetime.fromisoformat(touched_at) + timedelta(
        hours=config.uploads.incomplete_hours)
    return tus.http_date(moment)


def _no_space(error: OSError) -> bool:
    return error.errno in (errno.ENOSPC, errno.EDQUOT)


@router.options("/u/{token}/tus/")
@router.options("/u/{token}/tus/{upload_id}")
async def options(request: Request, token: str) -> Response:
    scope = await scope_of(request, token)
    if scope is None:
        return gone()
    return Response(status_code=204, headers=tus.headers(
        **{"Tus-Version": tus.VERSION, "Tus-Extension": tus.EXTENSIONS,
           "Tus-Max-Size": str(scope.config.policy.max_file_size)}))


@router.post("/u/{token}/tus/")
async def create(request: Request, token: str) -> Response:
    scope = await scope_of(request, token)
    if scope is None:
        return gone()
    if not tus.version_ok(request.headers.get("tus-resumable")):
        return tus.refusal(tus.WRONG_VERSION)
    length = tus.number(request.headers.get("upload-length"))
    if length is None:  # Upload-Defer-Length is not offered
        return tus.refusal(tus.BAD_REQUEST)
    config = scope.config
    if length > config.policy.max_file_size:
        return tus.refusal(tus.TOO_BIG, limit=human_size(config.policy.max_file_size))
    from safetymonth.web.uploads import safe_name

    name = safe_name(tus.metadata(request.headers.get("upload-metadata")).get("filename"), 1)
    upload_id = uuid.uuid4().hex
    try:
        refused = await scope.pool.run(_create, scope, upload_id, length, name)
    except OSError as error:
        if _no_space(error):
            return tus.refusal(tus.DISK_FULL)
        raise
    if refused is not None:
        return refused
    return Response(status_code=201, headers=tus.headers(
        Location=f"/u/{token}/tus/{upload_id}",
        **{"Upload-Expires": _expires(config, now())}))


def _create(store: Repository, scope: Scope, upload_id: str, length: int,
            name: str) -> Response | None:
    """The checks that need the store, then the upload's row and its empty file."""
    config, unit = scope.config, scope.unit
    scope.worker.sweep(store)
    hour_ago = stamp(datetime.now(UTC) - timedelta(hours=1))
    if store.creations_since(scope.link.token_hash, hour_ago) >= CREATIONS_PER_HOUR:
        return tus.refusal(tus.TOO_MANY)
    used = store.bytes_held(unit.key)
    if used + length > config.uploads.quota:
        return tus.refusal(tus.OVER_QUOTA, used=human_size(used),
                           limit=human_size(config.uploads.quota), size=human_size(length))
    partial.create(config.storage_dir, upload_id)
    at = now()
    try:
        store.create_upload(UploadRecord(
            id=upload_id, unit=unit.key, link=scope.link.token_hash, length=length, offset=0,
            name=name, state=OPEN, created_at=at, touched_at=at, message=None, error=None))
    except BaseException:
        partial.remove(config.storage_dir, upload_id)
        raise
    return None


async def _resumable(request: Request, token: str, upload_id: str
                     ) -> tuple[Scope, UploadRecord]:
    """The token's scope and the upload a request names; else the answer to send instead:
    a wrong tus version, or the 404 every wrong token gets (without a body to a HEAD)."""
    if not tus.version_ok(request.headers.get("tus-resumable")):
        raise _Answered(tus.refusal(tus.WRONG_VERSION))
    found = await _upload_of(request, token, upload_id)
    if found is None:
        raise _Answered(gone(head=request.method == "HEAD"))
    return found


Resumable = Annotated[tuple[Scope, UploadRecord], Depends(_resumable)]


async def _upload_of(request: Request, token: str, upload_id: str
                     ) -> tuple[Scope, UploadRecord] | None:
    """The token's scope and its unit's upload ``upload_id``; None: 404 (whatever the
    reason)."""
    scope = await scope_of(request, token)
    if scope is None or not partial.UPLOAD_ID.match(upload_id):
        return None
    upload = await scope.pool.run(lambda store: store.upload(upload_id))
    if upload is None or upload.unit != scope.unit.key or \
            upload.state not in (OPEN, FINISHED, DONE):
        return None
    return scope, upload


@router.head("/u/{token}/tus/{upload_id}")
async def head(resumable: Resumable) -> Response:
    scope, upload = resumable
    extra = {"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length)}
    if upload.state == OPEN:
        extra["Upload-Expires"] = _expires(scope.config, upload.touched_at)
    return Response(status_code=200, headers=tus.headers(**extra))


@router.delete("/u/{token}/tus/{upload_id}")
async def terminate(upload_id: str, resumable: Resumable) -> Response:
    scope, upload = resumable
    if upload.state != OPEN or upload_id in scope.worker.busy:
        return tus.refusal(tus.SUBMITTED if upload.state != OPEN else tus.WRONG_OFFSET)

    def end(store: Repository) -> None:
        from safetymonth.storage.uploads import ENDED

        partial.remove(scope.config.storage_dir, upload_id)
        store.set_upload_state(upload_id, ENDED, now())

    await scope.pool.run(end)
    scope.worker.hashers.pop(upload_id, None)
    return Response(status_code=204, headers=tus.headers())


@router.patch("/u/{token}/tus/{upload_id}")
async def patch(request: Request, upload_id: str, resumable: Resumable) -> Response:
    scope, upload = resumable
    if request.headers.get("content-type", "").split(";")[0].strip() != tus.OFFSET_TYPE:
        return tus.refusal(tus.WRONG_TYPE)
    offset = tus.number(request.headers.get("upload-offset"))
    if offset is None:
        return tus.refusal(tus.BAD_REQUEST)
    if offset != upload.offset or upload_id in scope.worker.busy:
        return tus.refusal(tus.WRONG_OFFSET)
    if upload.state != OPEN:  # complete already: nothing more to take
        return Response(status_code=204, headers=tus.headers(
            **{"Upload-Offset": str(upload.offset)}))
    scope.worker.busy.add(upload_id)
    try:
        return await _receive(request, scope, upload)
    finally:
        scope.worker.busy.discard(upload_id)


async def _receive(request: Request, scope: Scope, upload: UploadRecord) -> Response:
    """Stream the body to the file, fsync, record the offset (what is on disk, however the
    body ended), and hand a complete upload to the worker."""
    config, worker = scope.config, scope.worker
    try:
        appender = partial.Appender(config.storage_dir, upload.id, upload.offset,
                                    worker.hasher_at(upload.id, upload.offset))
    except OSError as error:
        if _no_space(error):
            return tus.refusal(tus.DISK_FULL)
        raise
    room = upload.length - upload.offset
    refused: tuple[int, str] | None = None
    try:
        try:
            async for chunk in request.stream():
                if len(chunk) > room:
                    chunk, refused = chunk[:room], tus.PAST_LENGTH
                await appender.append(chunk)
                room -= len(chunk)
                if refused:
                    break
        except ClientDisconnect:
            pass  # keep what came: the client resumes from HEAD
        finally:
            await appender.finish()
    except OSError as error:
        if not _no_space(error):
            raise
        refused = tus.DISK_FULL
    hasher = appender.hasher
    offset = appender.offset
    worker.keep_hasher(upload.id, offset, hasher)
    complete = offset == upload.length

    def record(store: Repository) -> None:
        store.advance_upload(upload.id, offset, now())
        if complete:
            store.set_upload_state(upload.id, FINISHED, now())

    await scope.pool.run(record)
    if complete:
        worker.submit(upload.id, hasher.hexdigest() if hasher is not None else None)
    if refused is not None:
        return tus.refusal(refused)
    return Response(status_code=204, headers=tus.headers(**{"Upload-Offset": str(offset)}))
