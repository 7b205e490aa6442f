"""The GB/T 9704 documents: the form of each kind, saving it (the .docx written as
``generate`` does), the .docx files, and the PDF and page-1 preview LibreOffice makes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from safetymonth import docgen
from safetymonth.config import Config
from safetymonth.report import report_from_repository
from safetymonth.web import documents, downloads
from safetymonth.web.auth import Visitor
from safetymonth.web.deps import CheckedForm, Decider, Who, config, pool, render
from safetymonth.web.routes.common import NotFound, number

router = APIRouter(include_in_schema=False)
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


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
