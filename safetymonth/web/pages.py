"""The HTML pages: login, the board, a unit, mail credited to no unit, reminders, downloads."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

from safetymonth.config import Config
from safetymonth.storage.overview import Overview
from safetymonth.storage.repository import Repository
from safetymonth.web import auth, views
from safetymonth.web.deps import CheckedForm, Decider, Who, config, pool, render

router = APIRouter(include_in_schema=False)


class NotFound(Exception):
    """No such unit or file: 404, whatever the id looked like."""


@router.get("/healthz")
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


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
    result = await pool(request).run(auth.log_in, name, password, address)
    if result.throttled:
        return _login_page(request, target, "登录失败次数过多，请 15 分钟后再试。", 429)
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
    found = await pool(request).run(views.board, config(request))
    rows = [row for row in found.rows if not status or row.status == status]
    return render(request, "board.html", who, board=found, rows=rows, status=status,
                  labels=views.STATUS_LABELS)


@router.get("/units/{ident}")
async def unit(request: Request, ident: str, who: Who) -> Response:
    found = views.find_unit(config(request), ident)
    if found is None:
        raise NotFound()
    page = await pool(request).run(views.unit_page, config(request), found)
    return render(request, "unit.html", who, page=page, labels=views.STATUS_LABELS,
                  reply_text=views.reply_text)


@router.get("/uncredited")
async def uncredited(request: Request, who: Who) -> Response:
    def load(repository: Repository, settings: Config) -> list[views.MessageView]:
        return views.message_views(repository, settings, Overview(repository).uncredited())

    messages = await pool(request).run(load, config(request))
    return render(request, "uncredited.html", who, messages=messages,
                  reply_text=views.reply_text)


# --- files ----------------------------------------------------------------------------------


def file_id(ident: str) -> int:
    """A file id from the URL; anything but digits (``..``, ``%2F``, ``-1``) is 404."""
    if not ident.isascii() or not ident.isdigit() or len(ident) > 18:
        raise NotFound()
    return int(ident)


@router.get("/files/{ident}")
async def download(request: Request, ident: str, _who: Who) -> Response:
    def locate(repository: Repository, number: int) -> tuple[views.FileView, str] | None:
        record = Overview(repository).file(number)
        return (views.file_view(record), str(repository.path(record.stored_name))) \
            if record else None

    found = await pool(request).run(locate, file_id(ident))
    if found is None:
        raise NotFound()
    view, path = found
    # Photos the validator read as JPEG or PNG open in the browser; everything else is a
    # download, never rendered (nosniff comes with every response).
    inline = view.is_photo
    return FileResponse(path, filename=view.name,
                        media_type=views.PHOTO_FORMATS.get(view.format or "")
                        if inline else "application/octet-stream",
                        content_disposition_type="inline" if inline else "attachment")


# --- reminders ------------------------------------------------------------------------------


@router.get("/remind")
async def remind_preview(request: Request, who: Who) -> Response:
    from safetymonth.mailbox.reminders import plan_reminders

    plans = await pool(request).run(
        lambda repository, settings: plan_reminders(settings, repository, date.today()),
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


@router.get("/report.csv")
async def report_csv(request: Request, _who: Who) -> Response:
    import io

    from safetymonth.report import report_from_repository, write_csv_to

    result = await pool(request).run(report_from_repository, config(request))
    out = io.StringIO()
    write_csv_to(result, out)
    return Response(("\ufeff" + out.getvalue()).encode(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename*=UTF-8''report.csv"})
