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
from safetymonth.web.routes.common import NotFound, scope, unit_of

router = APIRouter(include_in_schema=False)


# Before the unit's page, whose path would take "…/files.zip" as part of a unit's name; a name
# may hold "/" here too.
@router.get("/units/{ident:path}/files.zip")
async def unit_zip(request: Request, ident: str, who: Who, accepted: str = "") -> Response:
    """The unit's files (``?accepted=1``: only those accepted) as one zip, streamed."""
    target = unit_of(request, ident, who)
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
    target = unit_of(request, ident, who)
    page = await pool(request).run(views.unit_page, config(request), target)
    link = (await pool(request).run(
        lambda store: units_links(config(request), store, [target], warn=False)))[0]
    return render(request, "unit.html", who, page=page, views=views,
                  reply_text=views.reply_text, link=link,
                  link_expires=local_time(link.expires_at, config(request).campaign.timezone))


@router.get("/uncredited")
async def uncredited(request: Request, who: Who) -> Response:
    found = await pool(request).run(views.uncredited, config(request))
    seen = scope(request, who)
    return render(request, "uncredited.html", who, views=views,
                  messages=[item for item in found if seen.message(item.record)],
                  units=seen.units(config(request).units))


@router.get("/cloud-links")
async def cloud_links(request: Request, who: Who) -> Response:
    """The units' 超大附件/中转站 links still to fetch, the soonest to expire first."""
    settings = config(request)
    found = await pool(request).run(lambda store: cloudlist.cloud_links(store, settings))
    return render(request, "cloud_links.html", who, links=found)


@router.get("/history")
async def history(request: Request, who: Who, action: str = "", unit: str = "") -> Response:
    found = await pool(request).run(views.history, action, unit)
    seen = scope(request, who)
    names = {key: name for key, name in decisions.unit_names(config(request)).items()
             if seen.unit(key)}
    return render(request, "history.html", who,
                  records=[record for record in found.records if seen.decision(record)],
                  action=action, unit=unit, views=views, names=names,
                  files=found.files_named)
