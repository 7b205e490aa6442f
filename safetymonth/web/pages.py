"""The HTML pages: login, the board, a unit, mail credited to no unit, reminders, downloads."""

from __future__ import annotations

import io
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import (
    FileResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from safetymonth import decisions, docgen
from safetymonth.config import Config, Unit
from safetymonth.report import clerk_xlsx, report_from_repository, write_clerk_csv
from safetymonth.storage.credit import DecisionRecord, FileView
from safetymonth.storage.files import TMP_DIR
from safetymonth.storage.repository import Repository
from safetymonth.web import (
    auth,
    bundle,
    documents,
    downloads,
    notices,
    thumbnails,
    uploads,
    views,
)
from safetymonth.web.auth import Forbidden, Visitor
from safetymonth.web.deps import (
    CSRF_FAILED,
    CheckedForm,
    Decider,
    Who,
    config,
    pool,
    render,
    templates,
)
from safetymonth.zone import now_in

router = APIRouter(include_in_schema=False)
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class NotFound(Exception):
    """No such unit or file: 404, whatever the id looked like."""


@router.get("/healthz")
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


FAVICON = Path(__file__).parent / "static" / "favicon.ico"


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """The tab's icon, where every browser asks for it (no login: it shows on /login)."""
    return FileResponse(FAVICON, media_type="image/vnd.microsoft.icon",
                        headers={"cache-control": "public, max-age=604800"})


# --- logging in and out ---------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme): no open redirect."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    return _login_page(request, _safe_next(next))


def _login_page(request: Request, target: str, error: str = "", status: int = 200) -> Response:
    token = auth.login_form_token(request)
    response = render(request, "login.html", None, status, csrf=token, next=target,
                      error=error)
    auth.set_cookie(response, request, auth.LOGIN_COOKIE, token, 3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    target = _safe_next(str(form.get("next", "/")))
    expected = request.cookies.get(auth.LOGIN_COOKIE, "")
    if not expected or not auth.csrf_matches(expected, str(form.get("csrf", ""))):
        return _login_page(request, target, "页面已过期，请重新登录。", 403)
    name, password = str(form.get("name", ""))[:100], str(form.get("password", ""))
    address = request.client.host if request.client else "unknown"
    attempt = await pool(request).run(auth.begin_login, name, address)
    if attempt.throttled:
        return _login_page(request, target, "登录失败次数过多，请 15 分钟后再试。", 429)
    matched = await auth.verify_password(attempt, password)
    result = await pool(request).run(auth.finish_login, attempt, matched)
    if result.token is None:
        return _login_page(request, target, "用户名或密码错误。", 401)
    response = RedirectResponse(target, status_code=303)
    auth.set_session_cookie(response, request, result.token)
    response.delete_cookie(auth.LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, who: Who,
                 _form: CheckedForm) -> Response:
    await pool(request).run(auth.log_out, who)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


# --- the board and the units ----------------------------------------------------------------


@router.get("/")
async def board(request: Request, who: Who, status: str = "") -> Response:
    found = await pool(request).run(request.app.state.cache.board, config(request))
    status = status if status in views.STATUS_LABELS else ""
    return render(request, "board.html", who, board=found, table=_board_table(request, found,
                                                                               status),
                  status=status, labels=views.STATUS_LABELS,
                  deadline=config(request).campaign.deadline,
                  deadline_end=views.deadline_end(config(request)),
                  days_left=views.days_left(config(request)))


def _board_table(request: Request, found: views.Board, status: str) -> Markup:
    """The board's table, rendered once per board and filter: the same for every visitor,
    and most of the page's cost with 2,000 units."""
    tables: dict[str, tuple[views.Board, Markup]] = request.app.state.board_tables
    cached = tables.get(status)
    if cached is not None and cached[0] is found:
        return cached[1]
    rows = [html for row, html in _board_rows(request, found).items()
            if not status or row.status == status]
    table = Markup(templates.get_template("_board_table.html").render(rows=rows))
    tables[status] = (found, table)
    return table


def _board_rows(request: Request, found: views.Board) -> dict[views.BoardRow, Markup]:
    """Each row's HTML, in the board's order, rendered once per distinct row: while mail
    comes in, a message changes one unit's row and the other 1,999 are reused."""
    board_of, previous = request.app.state.board_rows
    if board_of is found:
        return previous  # type: ignore[no-any-return]
    render = templates.get_template("_board_row.html").module.board_row  # type: ignore[attr-defined]
    rows = {row: previous.get(row) or render(row) for row in found.rows}
    request.app.state.board_rows = (found, rows)
    return rows


# Before the unit page, whose path parameter would take "…/files.zip" as a unit name.
@router.get("/units/{ident:path}/files.zip")
async def unit_zip(request: Request, ident: str, _who: Who, accepted: str = "") -> Response:
    """The unit's files (``?accepted=1``: only those accepted) as one zip, streamed."""
    target = _unit(request, ident)
    items = await pool(request).run(bundle.entries, target.key, accepted == "1")
    if not items:
        raise NotFound()
    return StreamingResponse(
        bundle.stream(items, config(request).policy.max_file_size),
        media_type="application/zip", headers={
            "content-disposition": downloads.disposition(False,
                                                         bundle.download_name(target.name))})


@router.get("/units/{ident:path}")  # a name may hold "/" (no id)
async def unit(request: Request, ident: str, who: Who) -> Response:
    page = await pool(request).run(views.unit_page, config(request), _unit(request, ident))
    return render(request, "unit.html", who, page=page, views=views,
                  reply_text=views.reply_text)


def _unit(request: Request, ident: str) -> Unit:
    found = views.find_unit(config(request), ident)
    if found is None:
        raise NotFound()
    return found


@router.get("/uncredited")
async def uncredited(request: Request, who: Who) -> Response:
    found = await pool(request).run(views.uncredited, config(request))
    return render(request, "uncredited.html", who, messages=found, views=views)


@router.get("/history")
async def history(request: Request, who: Who, action: str = "", unit: str = "") -> Response:
    found = await pool(request).run(views.history, action, unit)
    return render(request, "history.html", who, records=found.records, action=action,
                  unit=unit, views=views, names=decisions.unit_names(config(request)),
                  files=found.files_named)


# --- files ----------------------------------------------------------------------------------


def number(ident: str) -> int:
    """An id from the URL; anything but plain digits (``..``, ``%2F``, ``-1``) is 404."""
    if not ident.isascii() or not ident.isdigit() or len(ident) > 18:
        raise NotFound()
    return int(ident)


def _locate(repository: Repository, file: int) -> tuple[FileView, Path] | None:
    """A file by its id, and where its bytes are stored."""
    found = repository.file_views(file=file)
    return (found[0], repository.path(found[0].stored_name)) if found else None


@router.get("/files/{ident}")
async def download(request: Request, ident: str, _who: Who) -> Response:
    found = await pool(request).run(_locate, number(ident))
    if found is None:
        raise NotFound()
    view, path = found
    return downloads.response(view, path, config(request).policy.max_file_size)


@router.get("/files/{ident}/thumb")
async def thumb(request: Request, ident: str, _who: Who) -> Response:
    """A photo's or video's thumbnail (JPEG), made on first view in a limited process."""
    found = await pool(request).run(_locate, number(ident))
    if found is None or not thumbnails.wanted(found[0]):
        raise NotFound()
    path = await run_in_threadpool(thumbnails.thumbnail, config(request), *found)
    if path is None:
        raise NotFound()
    return FileResponse(path, media_type="image/jpeg", headers={
        "content-disposition": downloads.disposition(True, f"{ident}.jpg"),
        "cache-control": "private, max-age=86400"})


# --- decisions ------------------------------------------------------------------------------


async def _decide(request: Request, who: Visitor, form: FormData, back: str,
                  decide: Callable[..., object], *args: object) -> Response:
    """Run a decision (``decisions.credit`` …) with the form's reason and the visitor as
    who decided; a decision that cannot be made is a page saying why (400). The next page
    says what was done, with an undo button (:mod:`~safetymonth.web.notices`)."""
    reason = str(form.get("reason", ""))[:1000]
    try:
        made = await pool(request).run(
            lambda repository: decide(config(request), repository, *args, reason, who.user))
    except decisions.DecisionError as error:
        return render(request, "error.html", who, 400, message=str(error))
    response = RedirectResponse(back, status_code=303)
    if isinstance(made, DecisionRecord):
        notices.tell(response, request, notices.decided(made, config(request)))
    return response


def _back(form: FormData, default: str) -> str:
    return _safe_next(str(form.get("back", default)))


@router.post("/files/{ident}/{action}")
async def judge_file(request: Request, ident: str, action: str, who: Decider,
                     form: CheckedForm) -> Response:
    decide = {"accept": decisions.accept, "reject": decisions.reject}.get(action)
    if decide is None:
        raise NotFound()
    return await _decide(request, who, form, _back(form, "/"), decide, str(number(ident)))


@router.post("/messages/{ident}/credit")
async def credit(request: Request, ident: str, who: Decider, form: CheckedForm) -> Response:
    if not form.get("unit"):
        return render(request, "error.html", who, 400, message="请选择要计入的单位。")
    unit = _unit(request, str(form.get("unit", "")))
    return await _decide(request, who, form, _back(form, "/uncredited"),
                         lambda settings, repository, reason, by: decisions.credit(
                             settings, repository, str(number(ident)), unit.key, reason, by))


@router.post("/messages/{ident}/dismiss")
async def dismiss(request: Request, ident: str, who: Decider, form: CheckedForm) -> Response:
    """Put aside mail that is no submission (a question): 已处理, undoable."""
    return await _decide(request, who, form, _back(form, "/uncredited"),
                         lambda settings, repository, reason, by: decisions.dismiss(
                             settings, repository, str(number(ident)), reason, by))


@router.post("/decisions/{ident}/undo")
async def undo(request: Request, ident: str, who: Decider, form: CheckedForm) -> Response:
    return await _decide(request, who, form, _back(form, "/history"),
                         lambda _settings, repository, _reason, by: decisions.undo(
                             repository, number(ident), by))


@router.post("/units/{ident:path}/add")
async def add_files(request: Request, ident: str, who: Decider) -> Response:
    """Files received outside mail: streamed to disk, then stored, checked and credited.
    The CSRF token is a field of the multipart form, so it is checked once that is read;
    a body that is no such form has no token (403)."""
    target = _unit(request, ident)
    settings = config(request)
    try:
        async with uploads.receive(request, settings.storage_dir,
                                   settings.policy.max_file_size) as upload:
            if not auth.csrf_matches(who.csrf, upload.fields.get("csrf")):
                raise Forbidden(CSRF_FAILED)
            if not upload.paths:
                return render(request, "error.html", who, 400, message="没有选择文件。")
            reason = upload.fields.get("reason", "")
            record, added = await pool(request).run(lambda repository: decisions.add(
                settings, repository, target.key, reason, who.user, upload.paths,
                names=upload.names))
    except uploads.UploadTooLarge as error:
        return render(request, "error.html", who, 413, message=str(error))
    except uploads.BadUpload:
        raise Forbidden(CSRF_FAILED) from None
    except decisions.DecisionError as error:
        return render(request, "error.html", who, 400, message=str(error))
    response = RedirectResponse(f"/units/{quote(target.key)}", status_code=303)
    notices.tell(response, request, notices.added(record, added))
    return response


# --- reminders ------------------------------------------------------------------------------


@router.get("/remind")
async def remind_preview(request: Request, who: Who) -> Response:
    from safetymonth.mailbox.reminders import plan_reminders

    plans = await pool(request).run(
        lambda repository, settings: plan_reminders(
            settings, repository, now_in(settings.campaign.timezone).date()),
        config(request))
    return render(request, "remind.html", who, plans=plans, sent=None)


@router.post("/remind")
async def remind(request: Request, who: Decider,
                 _form: CheckedForm) -> Response:
    from safetymonth.mailbox.reminders import queue_reminders
    from safetymonth.mailbox.service import send_queued

    def send(repository: Repository, settings: Config) -> list[object]:
        plans = queue_reminders(settings, repository)
        send_queued(settings, repository)
        return list(plans)

    plans = await pool(request).run(send, config(request))
    return render(request, "remind.html", who, plans=plans, sent=True)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/report.csv")
async def report_csv(request: Request, _who: Who) -> Response:
    """The unit table as ``report --csv`` writes it (written under storage.dir/tmp, read
    back, removed)."""
    settings = config(request)
    result = await pool(request).run(request.app.state.cache.report, settings)

    def written() -> bytes:
        path = settings.storage_dir / TMP_DIR / f"report-{uuid.uuid4().hex}.csv"
        try:
            write_clerk_csv(result, path, views.zone(settings))
            return path.read_bytes()
        finally:
            path.unlink(missing_ok=True)

    return Response(await run_in_threadpool(written), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": downloads.disposition(False, "统计表.csv")})


@router.get("/report.xlsx")
async def report_xlsx(request: Request, _who: Who) -> Response:
    """The unit table as ``report --xlsx`` writes it, for Excel and WPS."""
    settings = config(request)
    result = await pool(request).run(request.app.state.cache.report, settings)

    def written() -> bytes:
        out = io.BytesIO()
        clerk_xlsx(result, out, views.zone(settings))
        return out.getvalue()

    return Response(await run_in_threadpool(written), media_type=XLSX, headers={
        "content-disposition": downloads.disposition(False, "材料报送情况.xlsx")})


# --- documents ------------------------------------------------------------------------------


def _kind(kind: str) -> str:
    if kind not in documents.KINDS:
        raise NotFound()
    return kind


@router.get("/documents")
async def documents_index(request: Request, who: Who) -> Response:
    return render(request, "documents.html", who, kinds=documents.KINDS)


@router.get("/documents/{kind}")
async def document_form(request: Request, kind: str, who: Who, error: str = "") -> Response:
    settings = config(request)
    data = await run_in_threadpool(documents.current_data, settings, _kind(kind))
    intake = []
    if kind == "summary":
        intake = (await pool(request).run(report_from_repository, settings))["units"]
    return render(request, "document.html", who, kind=kind, title=documents.KINDS[kind][0],
                  fields=documents.form_fields(data), intake=intake, error=error,
                  files=await run_in_threadpool(documents.docx_files, settings, kind),
                  saved=documents.data_path(settings, kind))


@router.post("/documents/{kind}")
async def document_save(request: Request, kind: str, who: Decider,
                        form: CheckedForm) -> Response:
    """Check the form, write the .docx as ``generate`` does, then save it as the YAML data
    file (refused data is never saved: 400 with what is wrong)."""
    settings, kind = config(request), _kind(kind)
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    rows = (await pool(request).run(report_from_repository, settings))["units"]

    def save_and_generate() -> None:
        documents.publish(settings, kind, documents.data_from_form(kind, fields), rows)

    try:
        await run_in_threadpool(save_and_generate)
    except docgen.DocgenError as error:
        return render(request, "error.html", who, 400, message=f"数据有误：{error}")
    return RedirectResponse(f"/documents/{kind}", status_code=303)


@router.get("/documents/{kind}/docx/{index}")
async def document_docx(request: Request, kind: str, index: str, _who: Who) -> Response:
    files = await run_in_threadpool(documents.docx_files, config(request), _kind(kind))
    position = number(index)
    if position >= len(files):
        raise NotFound()
    return FileResponse(files[position], media_type=DOCX_TYPE, headers={
        "content-disposition": downloads.disposition(False, files[position].name)})


@router.get("/documents/{kind}/pdf")
async def document_pdf(request: Request, kind: str, who: Who) -> Response:
    return await _converted(request, who, _kind(kind), documents.pdf, "application/pdf")


@router.get("/documents/{kind}/preview.png")
async def document_preview(request: Request, kind: str, who: Who) -> Response:
    return await _converted(request, who, _kind(kind), documents.preview, "image/png")


async def _converted(request: Request, who: Visitor, kind: str,
                     convert: Callable[[Config, str], Path], media_type: str) -> Response:
    """A PDF or page-1 PNG made by LibreOffice from the generated .docx, once per content
    (later requests are served the kept file)."""
    settings = config(request)
    if not await run_in_threadpool(documents.docx_files, settings, kind):
        raise NotFound()
    try:
        path = await run_in_threadpool(convert, settings, kind)
    except (docgen.PdfError, OSError, subprocess.SubprocessError) as error:
        return render(request, "error.html", who, 500, message=f"PDF 导出失败：{error}")
    inline = media_type == "image/png"
    name = f"{documents.KINDS[kind][0]}{path.suffix}"
    return FileResponse(path, media_type=media_type,
                        headers={"content-disposition": downloads.disposition(inline, name)})
