"""Files received outside mail, uploaded on a unit's page: the multipart body is parsed as it
streams in and each file written straight to disk in a private folder under ``storage.dir``
(never held in memory), refused once the body passes the policy's ``max_file_size``."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from python_multipart import FormParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, parse_options_header
from starlette.requests import Request

from safetymonth.filenames import safe_file_name
from safetymonth.mailbox import attachments
from safetymonth.storage.files import TMP_DIR


class BadUpload(Exception):
    """An upload that cannot be taken (too large, not a form); what was written is removed."""


class UploadTooLarge(BadUpload):
    """The body passed the size limit."""


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # each file's name, as it is recorded


def safe_name(raw: bytes | None, number: int) -> str:
    """A browser's file name as intake keeps an attachment's (:func:`safetymonth.mailbox.
    attachments.safe_name`): no folders (``C:\\x\\a.jpg`` gives ``a.jpg``), no control characters,
    cut to the same length, never empty or a dot name."""
    text = PureWindowsPath((raw or b"").decode("utf-8", errors="replace")).name
    name = attachments.safe_name(text.replace("/", "_"), number - 1)
    return name if name.strip(".") else f"上传文件{number}"


def disk_name(name: str, number: int) -> str:
    """Where the file waits on disk: ``name`` cut to what every file system takes (a name of
    100 CJK characters is 300 bytes, over the 255 of ext4), as ``export`` cuts names."""
    stem, suffix = safe_file_name(name, f"上传文件{number}")
    return stem + suffix


@asynccontextmanager
async def receive(request: Request, storage_dir: Path, limit: int) -> AsyncIterator[Upload]:
    """Parse the request's multipart body into fields and files on disk; the files are
    removed when the block ends."""
    folder = storage_dir / TMP_DIR / f"upload-{uuid.uuid4().hex}"
    folder.mkdir(mode=0o700)
    upload, files = Upload(), []

    def on_field(item: Field) -> None:
        if item.field_name and len(upload.fields) < 20:
            upload.fields[item.field_name.decode(errors="replace")] = \
                (item.value or b"").decode(errors="replace")[:2000]

    def on_file(item: File) -> None:
        files.append(item)

    try:
        await _parse(request, folder, limit, on_field, on_file)
        for number, item in enumerate(files, 1):
            item.close()
            if item.actual_file_name is None or item.size == 0:
                continue
            name = safe_name(item.file_name, number)
            target = folder / str(number) / disk_name(name, number)
            target.parent.mkdir(mode=0o700)
            os.replace(item.actual_file_name, target)
            upload.paths.append(target)
            upload.names.append(name)
        yield upload
    finally:
        for item in files:
            item.close()
        shutil.rmtree(folder, ignore_errors=True)


async def _parse(request: Request, folder: Path, limit: int, on_field: Callable[[Field], None],
                 on_file: Callable[[File], None]) -> None:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        raise BadUpload("上传须为 multipart/form-data")
    parser = FormParser("multipart/form-data", on_field, on_file, boundary=options[b"boundary"],
                        config={"UPLOAD_DIR": str(folder), "MAX_MEMORY_FILE_SIZE": 0,
                                "UPLOAD_DELETE_TMP": False, "MAX_BODY_SIZE": limit})
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise UploadTooLarge(f"上传内容超过 {limit} 字节的上限")
            parser.write(chunk)
        parser.finalize()
    except FormParserError as error:
        raise BadUpload(f"上传内容无法解析：{error}") from None
