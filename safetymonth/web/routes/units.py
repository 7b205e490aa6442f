"""A unit's page and its files in one zip; the mail credited to no unit; the decisions'
history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from safetymonth import cloudlist, decisions
from safetymonth.report import local_time
from safetymonth.uploads.links import units_links
from safetymonth.web import bundle, downloads, views
from safetymonth.web.deps import Who, config, pool, render
from safetymonth.web.routes.common import NotFound, unit_of

router = APIRouter(include_in_schema=False)


# Before the unit's page, whose path would take "…/files.zip" as part of a unit's name; a name
# may hold "/" here too.
@router.get("/units/{ident:path}/files.zip")
async def unit_zip(request: Request, ident: str, _who: Who, accepted: str = "") -> Response:
    """The unit's files (``?accepted=1``: only those accepted) as one zip, streamed."""
    target = unit_of(request, ident)
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
    target = unit_of(request, ident)
    page = await pool(request).run(views.unit_page, config(request), target)
    link = (await pool(request).run(
        lambda store: units_links(config(request), store, [target], warn=False)))[0]
    return render(request, "unit.html", who, page=page, views=views,
                  reply_text=views.reply_text, link=link,
                  link_expires=local_time(link.expires_at, config(request).campaign.timezone))


@router.get("/uncredited")
async def uncredited(request: Request, who: Who) -> Response:
    found = await pool(request).run(views.uncredited, config(request))
    return render(request, "uncredited.html", who, messages=found, views=views)


@router.get("/cloud-links")
async def cloud_links(request: Request, who: Who) -> Response:
    """The units' 超大附件/中转站 links still to fetch, the soonest to expire first."""
    settings = config(request)
    found = await pool(request).run(lambda store: cloudlist.cloud_links(store, settings))
    return render(request, "cloud_links.html", who, links=found)


@router.get("/history")
async def history(request: Request, who: Who, action: str = "", unit: str = "") -> Response:
    found = await pool(request).run(views.history, action, unit)
    return render(request, "history.html", who, records=found.records, action=action,
                  unit=unit, views=views, names=decisions.unit_names(config(request)),
                  files=found.files_named)
