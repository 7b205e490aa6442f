"""A coordinator's decisions from the console: accept or reject a file, count it for a
deliverable, credit or put aside a message, undo a decision, add files received outside mail.
Each route calls its function of
:mod:`safetymonth.decisions` itself, with named arguments, in a worker thread on a pooled
repository; the page after it says what was done, with an undo button (a notice). A decision
that cannot be made is a page saying why (400). None of them sends mail: a decision's notice
to a unit, when there is one, is only queued (the ``poll`` watcher sends it)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from safetymonth import decisions
from safetymonth.storage.credit import DecisionRecord, FileView
from safetymonth.storage.repository import Repository
from safetymonth.web import auth, notices, uploads
from safetymonth.web.auth import Forbidden, Visitor
from safetymonth.web.deps import CSRF_FAILED, CheckedForm, Decider, config, pool, render
from safetymonth.web.routes.common import (
    NotFound,
    back_to,
    number,
    reason_of,
    redirect_telling,
    scope,
    unit_of,
    within,
)
from safetymonth.web.scope import Scope

router = APIRouter(include_in_schema=False)
Decision = Callable[[Repository], DecisionRecord]


async def _made(request: Request, who: Visitor, back: str, decision: Decision) -> Response:
    """Make ``decision`` on a pooled repository; then back to ``back``, telling what was
    done (or the reason it could not be, 400)."""
    try:
        record = await pool(request).run(decision)
    except decisions.DecisionError as error:
        return render(request, "error.html", who, 400, message=str(error))
    return redirect_telling(request, back, notices.decided(record, config(request)))


def _message_within(repository: Repository, seen: Scope, message: int) -> None:
    """404 for a message outside the visitor's group (an unknown id is the decision's
    own 400)."""
    found = repository.message_views(message=message)
    within(not found or seen.message(found[0]))


def _file_within(repository: Repository, seen: Scope, file: int) -> None:
    """404 for a file outside the visitor's group (an unknown id is the decision's own 400)."""
    found = repository.file_views(file=file)
    within(not found or seen.file(found[0]))


@router.post("/files/{ident}/assign")
async def assign_file(request: Request, ident: str, who: Decider,
                      form: CheckedForm) -> Response:
    """归入材料: count the file for the deliverable chosen in its select."""
    if not form.get("deliverable"):
        return render(request, "error.html", who, 400, message="请选择要计入的材料。")
    settings, file, reason = config(request), str(number(ident)), reason_of(form)
    deliverable, seen = str(form.get("deliverable")), scope(request, who)

    def assign_it(repository: Repository) -> DecisionRecord:
        _file_within(repository, seen, int(file))
        return decisions.assign(settings, repository, file=file, deliverable=deliverable,
                                reason=reason, by=who.user)

    return await _made(request, who, back_to(form, "/"), assign_it)


@router.post("/files/{ident}/{action}")
async def judge_file(request: Request, ident: str, action: str, who: Decider,
                     form: CheckedForm) -> Response:
    """认定合格 (``accept``) or 认定不合格 (``reject``); any other action is 404."""
    if action not in ("accept", "reject"):
        raise NotFound()
    settings, file, reason = config(request), str(number(ident)), reason_of(form)
    seen = scope(request, who)

    def judge(repository: Repository) -> DecisionRecord:
        _file_within(repository, seen, int(file))
        if action == "accept":
            return decisions.accept(settings, repository, file=file, reason=reason,
                                    by=who.user)
        return decisions.reject(settings, repository, file=file, reason=reason, by=who.user)

    return await _made(request, who, back_to(form, "/"), judge)


@router.post("/messages/{ident}/credit")
async def credit(request: Request, ident: str, who: Decider, form: CheckedForm) -> Response:
    if not form.get("unit"):
        return render(request, "error.html", who, 400, message="请选择要计入的单位。")
    settings, unit = config(request), unit_of(request, str(form.get("unit", "")), who)
    message, reason = str(number(ident)), reason_of(form)
    seen = scope(request, who)

    def credit_it(repository: Repository) -> DecisionRecord:
        _message_within(repository, seen, int(message))
        return decisions.credit(settings, repository, message=message, unit=unit.key,
                                reason=reason, by=who.user)

    return await _made(request, who, back_to(form, "/uncredited"), credit_it)


@router.post("/messages/{ident}/dismiss")
async def dismiss(request: Request, ident: str, who: Decider, form: CheckedForm) -> Response:
    """Put aside mail that is no submission (a question): 已处理, undoable."""
    settings, message, reason = config(request), str(number(ident)), reason_of(form)
    seen = scope(request, who)

    def dismiss_it(repository: Repository) -> DecisionRecord:
        _message_within(repository, seen, int(message))
        return decisions.dismiss(settings, repository, message=message, reason=reason,
                                 by=who.user)

    return await _made(request, who, back_to(form, "/uncredited"), dismiss_it)


@router.post("/decisions/{ident}/undo")
async def undo(request: Request, ident: str, who: Decider, form: CheckedForm) -> Response:
    decision, seen = number(ident), scope(request, who)

    def undo_it(repository: Repository) -> DecisionRecord:
        record = repository.decision(decision)
        within(record is None or seen.decision(record))
        return decisions.undo(repository, decision=decision, by=who.user)

    return await _made(request, who, back_to(form, "/history"), undo_it)


@router.post("/units/{ident:path}/add")
async def add_files(request: Request, ident: str, who: Decider) -> Response:
    """Files received outside mail: streamed to disk, then stored, checked and credited.
    The CSRF token is a field of the multipart form, so it is checked once that is read;
    a body that is no such form has no token (403)."""
    target, settings = unit_of(request, ident, who), config(request)
    try:
        async with uploads.receive(request, settings.storage_dir,
                                   settings.policy.max_file_size) as upload:
            if not auth.csrf_matches(who.csrf, upload.fields.get("csrf")):
                raise Forbidden(CSRF_FAILED)
            if not upload.paths:
                return render(request, "error.html", who, 400, message="没有选择文件。")

            def add(repository: Repository) -> tuple[DecisionRecord, list[FileView]]:
                return decisions.add(settings, repository, unit=target.key,
                                     reason=upload.fields.get("reason", ""), by=who.user,
                                     paths=upload.paths, names=upload.names)

            record, added = await pool(request).run(add)
    except uploads.UploadTooLarge as error:
        return render(request, "error.html", who, 413, message=str(error))
    except uploads.BadUpload:
        raise Forbidden(CSRF_FAILED) from None
    except decisions.DecisionError as error:
        return render(request, "error.html", who, 400, message=str(error))
    return redirect_telling(request, f"/units/{quote(target.key)}",
                            notices.added(record, added))
