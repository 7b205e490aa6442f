"""What the page after a decision says: what was done (in Chinese, with the decision's
number and reason) and a button to undo it.

The redirect after a POST carries the notice in a short-lived cookie (HttpOnly, SameSite=Lax,
one page view); the next page shows it and deletes the cookie. It is only text to show
(autoescaped), so nothing in it is trusted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import Response

from safetymonth.config import Config
from safetymonth.deliverables import deliverables_of
from safetymonth.storage.credit import (
    ACCEPT,
    ASSIGN,
    CREDIT,
    DISMISS,
    REJECT,
    DecisionRecord,
    FileView,
)
from safetymonth.web import auth

COOKIE = "safetymonth_notice"
MAX_TEXT = 600


@dataclass(frozen=True)
class Notice:
    text: str
    undo: int | None = None  # the decision the undo button undoes


def decided(record: DecisionRecord, config: Config) -> Notice:
    """What a decision (or its undo) did, said for the clerk."""
    if record.undone_at:
        return Notice(f"已撤销决定 #{record.id}，恢复到此前的状态。")
    names = {unit.key: unit.name for unit in config.units}
    unit = names.get(record.unit or "", record.unit or "")
    done = {CREDIT: f"已将邮件 #{record.message} 计入“{unit}”",
            ACCEPT: f"已将文件 {record.file} 认定为合格",
            REJECT: f"已将文件 {record.file} 认定为不合格",
            DISMISS: f"已将邮件 #{record.message} 标为已处理（不是报送材料），"
                     f"它不再列在未计入的邮件中",
            ASSIGN: f"已将文件 {record.file} 归入“{_deliverable_name(config, record)}”"}.get(
        record.action, f"已记录决定“{record.action}”")
    return Notice(f"{done}（决定 #{record.id}，理由：{record.reason}）。", record.id)


def _deliverable_name(config: Config, record: DecisionRecord) -> str:
    return next((item.name for item in deliverables_of(config.campaign)
                 if item.id == record.deliverable), record.deliverable or "")


def added(record: DecisionRecord, files: list[FileView]) -> Notice:
    names = "、".join(f"“{view.name}”（{'合格' if view.ok else '不合格'}）" for view in files)
    return Notice(f"已补充 {len(files)} 个文件：{names}（决定 #{record.id}）。", record.id)


def tell(response: Response, request: Request, notice: Notice) -> None:
    """Have the next page show ``notice``."""
    value = quote(json.dumps({"text": notice.text[:MAX_TEXT], "undo": notice.undo},
                             ensure_ascii=False), safe="")
    auth.set_cookie(response, request, COOKIE, value, 120)


def take(request: Request) -> Notice | None:
    """The notice the last POST left, if any (a malformed cookie is ignored)."""
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 8000:
        return None
    try:
        data = json.loads(unquote(raw))
        undo = data.get("undo")
        return Notice(str(data["text"])[:MAX_TEXT], undo if isinstance(undo, int) else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
