"""The GB/T 9704 documents: the Chinese form of each kind (rows added, removed and moved, a
preview of the first and last page, mistakes shown beside their field with everything typed
kept), saving it (the .docx written as ``generate`` does), and the downloads under the names
a clerk files them by: each .docx, the letters as one .zip, the PDF, the data file."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from safetymonth import docgen
from safetymonth.config import Config
from safetymonth.docgen.models import MAX_UNITS
from safetymonth.report import report_from_repository, summary_rows
from safetymonth.web import document_forms, documents, downloads, form_errors, notices, previews
from safetymonth.web.auth import Visitor
from safetymonth.web.deps import Decider, Who, config, pool, read_checked_form, render
from safetymonth.web.routes.common import NotFound, number, redirect_telling


def bureau_only(who: Who) -> None:
    """The notice, the letters and the summary are the bureau's own documents: a group's
    user (``user add --group``) finds none of them (404)."""
    if who.group is not None:
        raise NotFound()


router = APIRouter(include_in_schema=False, dependencies=[Depends(bureau_only)])
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# A letter's form has four fields per unit of the roster.
MAX_FIELDS = 4 * MAX_UNITS + 400


async def document_form_data(request: Request, who: Decider) -> FormData:
    return await read_checked_form(request, who, MAX_FIELDS)


DocumentForm = Annotated[FormData, Depends(document_form_data)]


def _kind(kind: str) -> str:
    if kind not in documents.KINDS:
        raise NotFound()
    return kind


@router.get("/documents")
async def documents_index(request: Request, who: Who) -> Response:
    return render(request, "documents.html", who, kinds=documents.KINDS)


@router.get("/documents/{kind}")
async def document_form(request: Request, kind: str, who: Who) -> Response:
    settings = config(request)
    data = await run_in_threadpool(documents.current_data, settings, _kind(kind))
    state = document_forms.state_from_data(kind, data)
    return await _page(request, who, kind, state)


@router.post("/documents/{kind}")
async def document_save(request: Request, kind: str, who: Decider,
                        form: DocumentForm) -> Response:
    """The form's buttons: a row added, removed or moved (``op``, when the page's script did
    not do it), 刷新预览, or 保存并生成 — the data checked, the .docx written as ``generate``
    does, and only then saved as the YAML data file. A mistake gives the form back (400) with
    what is wrong beside its field and everything typed kept; nothing is saved."""
    settings, kind = config(request), _kind(kind)
    state = document_forms.state_from_form(kind, form)
    op = str(form.get("op") or "")
    if op and op != "preview":
        return await _page(request, who, kind, document_forms.apply(kind, state, op))
    data = document_forms.data_from_state(kind, state)
    checked, errors = form_errors.check(kind, data)
    if checked is None:
        return await _page(request, who, kind, state, errors=errors, status=400)
    rows = await _intake(request, kind)
    if op == "preview":
        digest = previews.key(kind, form_errors.dump(data), rows)
        try:
            await run_in_threadpool(previews.make, settings, checked, digest, rows)
        except (docgen.DocgenError, OSError, subprocess.SubprocessError) as error:
            return await _page(request, who, kind, state, status=500,
                               problem=_said(settings, "预览生成失败", error))
        return await _page(request, who, kind, state, digest=digest)
    try:
        await run_in_threadpool(documents.publish, settings, kind, data, rows)
    except docgen.DocgenError as error:
        return await _page(request, who, kind, state, status=400,
                           problem=_said(settings, "无法生成", error))
    return redirect_telling(request, f"/documents/{kind}",
                            notices.Notice("已保存，并已生成 .docx，可在下方下载。"))


async def _page(request: Request, who: Visitor, kind: str, state: dict[str, Any], *,
                errors: Mapping[str, str] | None = None, status: int = 200,
                digest: str | None = None, problem: str = "") -> Response:
    """The form of ``kind`` showing ``state``, the downloads of the saved data, and the
    preview of the form's data when it has been made."""
    settings = config(request)
    if kind == "letter":
        state = document_forms.with_roster(state, documents.roster(settings))
    rows = await _intake(request, kind)
    if digest is None and not errors:
        text = form_errors.dump(document_forms.data_from_state(kind, state))
        digest = previews.key(kind, text, rows)
    ready = digest is not None and await run_in_threadpool(previews.ready, settings, kind,
                                                           digest)
    files = await run_in_threadpool(documents.downloads, settings, kind)
    saved = await run_in_threadpool(documents.saved_or_none, settings, kind)
    return render(request, "document.html", who, status, kind=kind,
                  title=documents.KINDS[kind][0], fields=document_forms.FORMS[kind],
                  state=state, errors=errors or {}, problem=problem,
                  files=[name for _path, name in files],
                  bundle=saved and documents.bundle_stem(saved), intake=rows,
                  preview=digest if ready else None)


async def _intake(request: Request, kind: str) -> Sequence[Mapping[str, Any]]:
    """The report's rows a summary may print (none for the other kinds)."""
    if kind != "summary":
        return []
    settings = config(request)
    report = await pool(request).run(report_from_repository, settings)
    return summary_rows(report, settings)


def _said(settings: Config, what: str, error: Exception) -> str:
    """An error for the page: never the server's paths."""
    return f"{what}：{error}".replace(str(settings.storage_dir), "…")


@router.get("/documents/{kind}/docx/{index}")
async def document_docx(request: Request, kind: str, index: str, _who: Who) -> Response:
    files = await run_in_threadpool(documents.downloads, config(request), _kind(kind))
    position = number(index)
    if position >= len(files):
        raise NotFound()
    path, name = files[position]
    return FileResponse(path, media_type=DOCX_TYPE,
                        headers={"content-disposition": downloads.disposition(False, name)})


@router.get("/documents/letter/zip")
async def letters_zip(request: Request, who: Who) -> Response:
    settings = config(request)
    saved = await run_in_threadpool(documents.saved_or_none, settings, "letter")
    if saved is None or not await run_in_threadpool(documents.docx_files, settings, "letter"):
        raise NotFound()
    path = await run_in_threadpool(documents.letters_zip, settings)
    name = documents.bundle_stem(saved) + ".zip"
    return FileResponse(path, media_type="application/zip",
                        headers={"content-disposition": downloads.disposition(False, name)})


@router.get("/documents/{kind}/data.yaml")
async def document_data(request: Request, kind: str, _who: Who) -> Response:
    """The saved data file, for ``safetymonth generate`` elsewhere."""
    path = documents.data_path(config(request), _kind(kind))
    if not path.is_file():
        raise NotFound()
    return FileResponse(path, media_type="text/yaml; charset=utf-8", headers={
        "content-disposition": downloads.disposition(False, f"{kind}.yaml")})


@router.get("/documents/{kind}/pdf")
async def document_pdf(request: Request, kind: str, who: Who) -> Response:
    return await _converted(request, who, _kind(kind), documents.pdf, "application/pdf")


@router.get("/documents/{kind}/preview.png")
async def document_preview(request: Request, kind: str, who: Who) -> Response:
    return await _converted(request, who, _kind(kind), documents.preview, "image/png")


@router.get("/documents/{kind}/preview/{digest}/{which}.png")
async def preview_page(request: Request, kind: str, digest: str, which: str,
                       _who: Who) -> Response:
    """The first or last page of a form's preview (made by the form's 刷新预览)."""
    path = previews.page(config(request), _kind(kind), digest, which)
    if path is None:
        raise NotFound()
    return FileResponse(path, media_type="image/png")


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
        return render(request, "error.html", who, 500,
                      message=_said(settings, "PDF 导出失败", error))
    inline = media_type == "image/png"
    saved = await run_in_threadpool(documents.saved_or_none, settings, kind)
    stem = documents.bundle_stem(saved) if saved else documents.KINDS[kind][0]
    return FileResponse(path, media_type=media_type, headers={
        "content-disposition": downloads.disposition(inline, stem + path.suffix)})
