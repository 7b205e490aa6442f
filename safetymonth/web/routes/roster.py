"""The roster (``/roster``): the units as the roster file lists them (名称, 编号, 邮箱, 所属,
类别, 负责人), and, for an admin, a new sheet in its place: uploaded (bounded), read as
``units:`` reads it, shown as what would change, and written only on confirmation. The
console then takes the new units at once (the store's registry is synced, so credit follows
it, as after an edit of config.yaml); other processes take it when they next load the
config."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from safetymonth.config import Config, Unit
from safetymonth.roster import MAX_ROSTER_BYTES, RosterError, group_names, parse_roster
from safetymonth.roster_update import changes, replace_roster
from safetymonth.storage.credit import RegistryUnit
from safetymonth.storage.files import TMP_DIR
from safetymonth.storage.repository import Repository
from safetymonth.web import auth, uploads
from safetymonth.web.auth import Forbidden, Visitor
from safetymonth.web.deps import CSRF_FAILED, CheckedForm, Who, config, render
from safetymonth.web.routes.common import scope

router = APIRouter(include_in_schema=False)
PENDING = "roster-pending-"  # an uploaded sheet waiting for confirmation, in storage.dir/tmp
TOKEN = re.compile(r"^[0-9a-f]{32}$")
UPLOAD_LIMIT = MAX_ROSTER_BYTES + 64 * 1024  # the sheet and the form around it


def _admin(who: Visitor) -> None:
    if who.role != "admin":
        raise Forbidden("只有管理员可以更换单位名单。")


@router.get("/roster")
async def roster(request: Request, who: Who) -> Response:
    settings = config(request)
    return render(request, "roster.html", who, units=scope(request, who).units(settings.units),
                  groups={group.id: group.name for group in settings.groups},
                  roster=settings.roster_file, preview=None)


@router.post("/roster/preview")
async def preview(request: Request, who: Who) -> Response:
    """The uploaded sheet, read and compared with the current units; kept until confirmed."""
    _admin(who)
    settings = config(request)
    try:
        async with uploads.receive(request, settings.storage_dir, UPLOAD_LIMIT) as upload:
            if not auth.csrf_matches(who.csrf, upload.fields.get("csrf")):
                raise Forbidden(CSRF_FAILED)
            if not upload.paths:
                return _refused(request, who, "没有选择文件。")
            name, data = upload.names[0], upload.paths[0].read_bytes()
    except uploads.UploadTooLarge:
        return _refused(request, who, f"名单文件太大：最多 {MAX_ROSTER_BYTES // 1024 // 1024} MB。",
                        413)
    except uploads.BadUpload:
        raise Forbidden(CSRF_FAILED) from None
    problem = _unusable(settings, name)
    if problem:
        return _refused(request, who, problem)
    try:
        units = [Unit.model_validate(unit) for unit in
                 await run_in_threadpool(parse_roster, data, name, group_names(settings.groups))]
    except RosterError as error:
        return _refused(request, who, f"名单有误，未作任何更改：\n{error}")
    token = secrets.token_hex(16)
    _pending(settings, token).write_bytes(data)
    return render(request, "roster.html", who, units=settings.units, roster=settings.roster_file,
                  groups={group.id: group.name for group in settings.groups},
                  preview=changes(settings.units, units), token=token, upload_name=name)


@router.post("/roster/apply")
async def apply(request: Request, who: Who, form: CheckedForm) -> Response:
    """Write the confirmed sheet over the roster file (the old one kept), then take it."""
    _admin(who)
    settings, token = config(request), str(form.get("token", ""))
    if not TOKEN.match(token) or not _pending(settings, token).is_file():
        return _refused(request, who, "这份名单已失效，请重新上传。")
    pending = _pending(settings, token)
    data = pending.read_bytes()
    assert settings.roster_file is not None  # a pending sheet exists only for a roster file
    try:
        units = [Unit.model_validate(unit) for unit in
                 parse_roster(data, settings.roster_file.name, group_names(settings.groups))]
    except RosterError as error:
        return _refused(request, who, f"名单有误，未作任何更改：\n{error}")
    backup = await run_in_threadpool(replace_roster, settings.roster_file, data,
                                     datetime.now())
    pending.unlink(missing_ok=True)
    updated = settings.model_copy(update={"units": units})
    await _take(request, updated)
    return render(request, "roster.html", who, units=updated.units, roster=updated.roster_file,
                  groups={group.id: group.name for group in updated.groups}, preview=None,
                  applied=backup.name)


async def _take(request: Request, updated: Config) -> None:
    """The console works on the new units from now on, and the store's registry follows
    them (credit is read from it)."""
    request.app.state.config = updated
    request.app.state.pool.config = updated

    def sync(repository: Repository) -> None:
        repository.sync_registry([RegistryUnit(unit.key, unit.name, tuple(unit.emails))
                                  for unit in updated.units])

    await request.app.state.pool.run(sync)


def _unusable(settings: Config, name: str) -> str | None:
    """Why an upload cannot replace the roster file, if it cannot."""
    target = settings.roster_file
    if target is None:
        return ("配置中的 units: 是一份列表，不是名单文件；请在 config.yaml 中写 "
                "units: 单位名单.xlsx 后再从这里更换名单。")
    if Path(name).suffix.lower() != target.suffix.lower():
        return f"名单文件是 {target.suffix} 格式，请上传 {target.suffix} 文件。"
    return None


def _pending(settings: Config, token: str) -> Path:
    suffix = settings.roster_file.suffix.lower() if settings.roster_file else ".xlsx"
    return settings.storage_dir / TMP_DIR / f"{PENDING}{token}{suffix}"


def _refused(request: Request, who: Visitor, message: str, status: int = 400) -> Response:
    return render(request, "error.html", who, status, message=message)
