"""The small steps several routes share: 404 for a bad id, a unit from the URL, where to go
back after a POST, and the redirect that carries a notice to the next page."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from safetymonth.config import Unit
from safetymonth.web import notices, views
from safetymonth.web.auth import Visitor
from safetymonth.web.deps import config
from safetymonth.web.scope import Scope, scope_of

MAX_REASON = 1000


class NotFound(Exception):
    """No such unit or file: 404, whatever the id looked like."""


def number(ident: str) -> int:
    """An id from the URL; anything but plain digits (``..``, ``%2F``, ``-1``) is 404."""
    if not ident.isascii() or not ident.isdigit() or len(ident) > 18:
        raise NotFound()
    return int(ident)


def unit_of(request: Request, ident: str, who: Visitor | None) -> Unit:
    """The unit named by ``ident`` (its id or its name), or 404 (also when it is outside
    ``who``'s group)."""
    found = views.find_unit(config(request), ident)
    if found is None or not scope(request, who).unit(found.key):
        raise NotFound()
    return found


def scope(request: Request, who: Visitor | None) -> Scope:
    """What ``who`` may see: their group's units, or everything."""
    return scope_of(config(request), who)


def within(allowed: bool) -> None:
    """404 for what is outside the visitor's group: to them it is not there."""
    if not allowed:
        raise NotFound()


def safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme): no open redirect."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def back_to(form: FormData, default: str) -> str:
    """The page a form asked to return to (field ``back``), if it is on this site."""
    return safe_next(str(form.get("back", default)))


def reason_of(form: FormData) -> str:
    """The reason a clerk typed for a decision, cut to a sane length."""
    return str(form.get("reason", ""))[:MAX_REASON]


def redirect_telling(request: Request, target: str, notice: notices.Notice) -> Response:
    """303 to ``target``, whose page then shows ``notice`` (once)."""
    response = RedirectResponse(target, status_code=303)
    notices.tell(response, request, notice)
    return response
