"""Logging in and out: the login form (its own CSRF cookie, since no session exists yet),
the throttled password check, and the session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from safetymonth.web import auth
from safetymonth.web.deps import CheckedForm, Who, pool, render
from safetymonth.web.routes.common import safe_next

router = APIRouter(include_in_schema=False)


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    return _login_page(request, safe_next(next))


def _login_page(request: Request, target: str, error: str = "", status: int = 200) -> Response:
    token = auth.login_form_token(request)
    response = render(request, "login.html", None, status, csrf=token, next=target,
                      error=error)
    auth.set_cookie(response, request, auth.LOGIN_COOKIE, token, 3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    target = safe_next(str(form.get("next", "/")))
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
async def logout(request: Request, who: Who, _form: CheckedForm) -> Response:
    await pool(request).run(auth.log_out, who)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response
