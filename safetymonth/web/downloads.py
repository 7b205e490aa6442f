"""A stored file as a download, found by its id only (never by a path from the request).

Photos the validator read as a format registered with a content type (JPEG, PNG) are shown
inline; everything else is an attachment of type application/octet-stream, never rendered
(``nosniff`` comes with every response). A zip member, a file of its own, is read out of its
archive as it streams."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from fastapi.responses import FileResponse, Response, StreamingResponse

from safetymonth.storage.credit import FileView
from safetymonth.validator.archive import member_at
from safetymonth.web import views

CHUNK = 256 * 1024


def response(view: FileView, path: Path, max_size: int) -> Response:
    shown = views.inline_type(view)
    inline = shown is not None
    media_type = shown or "application/octet-stream"
    if view.name == view.attachment_name:
        return FileResponse(path, media_type=media_type,
                            headers={"content-disposition": disposition(inline, view.name)})
    member = view.name[len(view.attachment_name) + 1:]
    chunks = member_bytes(path, view.member, max_size) if view.member is not None else iter(())
    return StreamingResponse(chunks, media_type=media_type, headers={
        "content-disposition": disposition(inline, member.rsplit("/", 1)[-1])})


def disposition(inline: bool, name: str) -> str:
    """``Content-Disposition`` with the name only as RFC 5987 percent-encoding (no quote,
    CR or LF from a mail can reach the header) and a plain ASCII fallback."""
    fallback = "".join(char if (char.isascii() and char.isalnum()) or char in "._-" else "_"
                       for char in name)[-100:] or "file"
    return (f'{"inline" if inline else "attachment"}; filename="{fallback}"; '
            f"filename*=UTF-8''{quote(name, safe='')}")


def member_bytes(path: Path, position: int, max_size: int) -> Iterator[bytes]:
    """The bytes of one zip member, found by its recorded position (two members may share a
    name), stopping at ``max_size`` (a member that claims less and inflates to more is cut
    there: it was never checked beyond it)."""
    with zipfile.ZipFile(path) as archive:
        info = member_at(archive, position)
        if info is None:
            return
        sent = 0
        with archive.open(info) as stream:
            while sent < max_size and (chunk := stream.read(min(CHUNK, max_size - sent))):
                sent += len(chunk)
                yield chunk

