"""The unit table for Excel and WPS: ``/report.csv`` and ``/report.xlsx``, as ``report
--csv`` and ``report --xlsx`` write them."""

from __future__ import annotations

import io
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from safetymonth.report import clerk_xlsx, write_clerk_csv
from safetymonth.storage.files import TMP_DIR
from safetymonth.web import downloads, views
from safetymonth.web.deps import Who, config, pool
from safetymonth.web.routes.common import scope
from safetymonth.web.scope import scoped_report

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/report.csv")
async def report_csv(request: Request, who: Who) -> Response:
    """The unit table as ``report --csv`` writes it (written under storage.dir/tmp, read
    back, removed); a group's user gets its units only."""
    settings = config(request)
    result = scoped_report(await pool(request).run(request.app.state.cache.report, settings),
                           scope(request, who))

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
async def report_xlsx(request: Request, who: Who) -> Response:
    """The unit table as ``report --xlsx`` writes it, for Excel and WPS (a group's user:
    its units only)."""
    settings = config(request)
    result = scoped_report(await pool(request).run(request.app.state.cache.report, settings),
                           scope(request, who))

    def written() -> bytes:
        out = io.BytesIO()
        clerk_xlsx(result, out, views.zone(settings))
        return out.getvalue()

    return Response(await run_in_threadpool(written), media_type=XLSX, headers={
        "content-disposition": downloads.disposition(False, "材料报送情况.xlsx")})
