"""The tus 1.0.0 protocol as this service speaks it (core, creation, termination,
expiration): header values parsed and checked, the fixed answers, the refusals in Chinese.
No library: the ones there are (tuspyserver) keep their own file naming and metadata files,
know one size limit for everyone and no per-unit quota, so the protocol is implemented here
against https://tus.io/protocols/resumable-upload (1.0.0)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from email.utils import format_datetime

from starlette.responses import Response

VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
OFFSET_TYPE = "application/offset+octet-stream"

# Refusals: status and the Chinese text the unit's page shows.
WRONG_VERSION = (412, "不支持的上传协议版本（需要 tus 1.0.0）。")
BAD_REQUEST = (400, "上传请求不完整或格式不对，请刷新页面后重试。")
TOO_BIG = (413, "文件超过单个文件的大小上限 {limit}，未保存。")
OVER_QUOTA = (413, "本单位的上传空间不足：已用 {used}，上限 {limit}，这个文件 {size}，未保存。")
TOO_MANY = (429, "这个链接在一小时内创建的上传太多，请稍后再试。")
WRONG_OFFSET = (409, "上传位置不一致（另一处正在上传或已中断），请刷新页面后继续。")
WRONG_TYPE = (415, "上传内容类型不对（需要 application/offset+octet-stream）。")
DISK_FULL = (507, "服务器磁盘已满，本次上传的内容未能保存，请稍后再试或联系活动办公室。")
PAST_LENGTH = (413, "上传的内容超过了声明的文件大小，多出的部分未保存。")
SUBMITTED = (409, "文件已经提交，不能再删除；如有问题请联系活动办公室。")


def headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": VERSION, "Cache-Control": "no-store", **extra}


def refusal(which: tuple[int, str], **values: object) -> Response:
    status, text = which
    return Response(text.format(**values), status_code=status,
                    media_type="text/plain; charset=utf-8",
                    headers=headers(**({"Tus-Version": VERSION} if status == 412 else {})))


def version_ok(value: str | None) -> bool:
    return value == VERSION


def number(value: str | None) -> int | None:
    """A non-negative integer header (Upload-Length, Upload-Offset), else None."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    return int(value)


def metadata(value: str | None) -> dict[str, bytes]:
    """Upload-Metadata: comma-separated ``key base64value`` pairs (the value may be
    absent). A malformed pair is left out."""
    found: dict[str, bytes] = {}
    for pair in (value or "").split(",")[:50]:
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2:
            continue
        try:
            found[parts[0]] = base64.b64decode(parts[1], validate=True) if len(parts) == 2 \
                else b""
        except (binascii.Error, ValueError):
            continue
    return found


def http_date(moment: datetime) -> str:
    """Upload-Expires: an RFC 9110 date."""
    return format_datetime(moment, usegmt=True)
