"""A unit's files as one zip download, streamed as it is written (never held in memory or
written to disk whole): ``单位名称-安全管理月材料.zip``.

Members are named as ``export`` names files (the original name's last part, made safe for
Windows, a second file of the same name numbered ``name (2).jpg``), and a file the unit sent
more than once is in it once (:func:`safetymonth.export.same_content`). Stored, not
deflated: photos, videos and .docx are compressed already, and a clerk's unzip is faster.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from safetymonth.export import same_content
from safetymonth.filenames import safe_file_name, unique
from safetymonth.storage.repository import Repository
from safetymonth.validator.archive import member_at
from safetymonth.web.downloads import member_bytes

CHUNK = 256 * 1024
ZIP64_FROM = 2**31  # members from this size need ZIP64 sizes (unknown until written)


@dataclass(frozen=True)
class Entry:
    """One member: its name in the download, where its bytes are, and which zip member."""

    name: str
    path: Path
    member: int | None  # a zip member's place in its attachment (validator.archive.member_at)
    size: int
    received: str


def download_name(unit_name: str) -> str:
    return f"{unit_name}-安全管理月材料.zip"


def entries(store: Repository, unit: str, accepted_only: bool) -> list[Entry]:
    """The unit's files (or only those accepted after decisions), each content once."""
    found, taken, seen = [], set(), set()
    for view in store.file_views(unit):
        if (accepted_only and not view.ok) or same_content(view) in seen:
            continue
        path = store.path(view.stored_name)
        if view.name != view.attachment_name and (
                view.kind == "archive" or view.member is None
                or not _has_member(path, view.member)):
            continue  # a zip in a zip, or a member refused as unsafe: never unpacked
        seen.add(same_content(view))
        stem, suffix = safe_file_name(view.name.rpartition("!")[2] or view.name,
                                      f"文件{view.id}")
        member = None if view.name == view.attachment_name else view.member
        found.append(Entry(unique(stem, suffix, taken), path, member, view.size,
                           view.received))
    return found


def _has_member(path: Path, member: int) -> bool:
    """Whether a stored zip still has the member recorded at that place."""
    with zipfile.ZipFile(path) as archive:
        return member_at(archive, member) is not None


class _Pending:
    """What the zip writer wrote since the last chunk was handed on (no seek, no tell: the
    writer then puts each member's sizes after its data)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts, self.size = b"".join(self.parts), [], 0
        return data


def stream(items: list[Entry], max_member: int) -> Iterator[bytes]:
    """The zip's bytes, a chunk at a time (Starlette runs this iterator in a worker thread)."""
    pending = _Pending()
    with zipfile.ZipFile(pending, "w", zipfile.ZIP_STORED) as archive:  # type: ignore[arg-type]
        for item in items:
            info = zipfile.ZipInfo(item.name, _date_time(item.received))
            with archive.open(info, "w", force_zip64=item.size >= ZIP64_FROM) as out:
                for chunk in _bytes_of(item, max_member):
                    out.write(chunk)
                    if pending.size >= CHUNK:
                        yield pending.take()
            yield pending.take()
    yield pending.take()


def _bytes_of(item: Entry, max_member: int) -> Iterator[bytes]:
    if item.member is None:
        with item.path.open("rb") as source:
            while chunk := source.read(CHUNK):
                yield chunk
        return
    yield from member_bytes(item.path, item.member, max_member)


def _date_time(received: str) -> tuple[int, int, int, int, int, int]:
    """A member's time: when its mail was received (UTC, as stored)."""
    digits = [int(part) for part in (received[:4], received[5:7], received[8:10],
                                     received[11:13], received[14:16], received[17:19])]
    return (max(digits[0], 1980), *digits[1:])  # type: ignore[return-value]
