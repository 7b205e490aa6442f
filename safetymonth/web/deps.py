"""What every route needs: the repository pool, the visitor behind the session cookie, a form
whose CSRF token was checked, and rendering a template (jinja2, autoescaped: every name and
subject that came in a mail is escaped)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse

from safetymonth.config import Config
from safetymonth.web import auth, notices, thumbnails
from safetymonth.web.auth import Forbidden, LoginRequired, Visitor
from safetymonth.web.pool import RepositoryPool

templates = Environment(loader=PackageLoader("safetymonth.web", "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))


CSRF_FAILED = "CSRF 校验失败：请刷新页面后重试。"


def pool(request: Request) -> RepositoryPool:
    return request.app.state.pool  # type: ignore[no-any-return]


def config(request: Request) -> Config:
    return request.app.state.config  # type: ignore[no-any-return]


async def visitor(request: Request) -> Visitor:
    """The logged-in user, or :class:`LoginRequired`."""
    found = await pool(request).run(auth.visitor, request.cookies.get(auth.SESSION_COOKIE))
    if found is None:
        raise LoginRequired()
    return found


async def checked_form(request: Request, who: Annotated[Visitor, Depends(visitor)]) -> FormData:
    """The posted form, after its CSRF token (field ``csrf`` or ``X-CSRF-Token``) matched."""
    return await read_checked_form(request, who, 200)


async def read_checked_form(request: Request, who: Visitor, max_fields: int) -> FormData:
    """:func:`checked_form` for a form of up to ``max_fields`` fields (a letter's roster)."""
    form = await request.form(max_files=0, max_fields=max_fields)
    given = request.headers.get("x-csrf-token") or form.get("csrf")
    if not auth.csrf_matches(who.csrf, given if isinstance(given, str) else None):
        raise Forbidden(CSRF_FAILED)
    return form


async def decider(who: Annotated[Visitor, Depends(visitor)]) -> Visitor:
    """A visitor whose role may decide (admin, coordinator); a viewer gets 403."""
    if not who.can_decide:
        raise Forbidden("只读账号（viewer）只能查看，不能作出决定。")
    return who


Who = Annotated[Visitor, Depends(visitor)]  # any logged-in user
Decider = Annotated[Visitor, Depends(decider)]  # admin or coordinator
CheckedForm = Annotated[FormData, Depends(checked_form)]  # a POST whose CSRF token matched


def render(request: Request, name: str, who: Visitor | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """A page; a logged-in visitor's page also shows what their last action did (once)."""
    notice = notices.take(request) if who is not None else None
    page = templates.get_template(name).render(
        request=request, visitor=who, config=config(request), thumbnails=thumbnails,
        notice=notice, **context)
    response = HTMLResponse(page, status_code=status_code)
    if notice is not None:
        response.delete_cookie(notices.COOKIE, path="/")
    return response
