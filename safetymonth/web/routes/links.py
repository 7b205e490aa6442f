"""The units' upload links in the console: shown on each unit's page (copy, rotate after a
confirmation) and printed all together, one per unit, to hand out with the notice
(``/links/print``). A link is issued on first need, as ``safetymonth links`` does."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from safetymonth.config import Unit
from safetymonth.report import local_time
from safetymonth.storage.repository import Repository
from safetymonth.uploads.links import Link, units_links
from safetymonth.web.deps import CheckedForm, Decider, Who, config, pool, render
from safetymonth.web.notices import Notice
from safetymonth.web.routes.common import redirect_telling, scope, unit_of

router = APIRouter(include_in_schema=False)


def unit_links(request: Request, store: Repository, units: list[Unit],
               rotate: bool = False) -> list[Link]:
    return units_links(config(request), store, units, rotate=rotate, warn=False)


@router.get("/links/print")
async def print_sheet(request: Request, who: Who) -> Response:
    """Every unit's link on a printable sheet, one per unit (a group's user: its units)."""
    units = scope(request, who).units(config(request).units)
    found = await pool(request).run(lambda store: unit_links(request, store, units))
    zone = config(request).campaign.timezone
    return render(request, "links_print.html", who, links=found,
                  expires={link.unit.key: local_time(link.expires_at, zone) for link in found})


@router.post("/links/rotate/{ident:path}")
async def rotate(request: Request, ident: str, who: Decider, form: CheckedForm) -> Response:
    """A new link for the unit; the old one is dead at once (the form asks to confirm)."""
    target = unit_of(request, ident, who)
    back = f"/units/{quote(target.key)}"
    if form.get("confirm") != "yes":
        return redirect_telling(request, back, Notice("未更换链接：请先勾选确认。"))
    await pool(request).run(lambda store: unit_links(request, store, [target], rotate=True))
    return redirect_telling(request, back, Notice(
        f"已为{target.name}更换上传链接，旧链接已失效；请把新链接发给该单位。"))
