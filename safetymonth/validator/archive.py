"""Zip archives, judged from their central directory before a single byte is inflated.

Limits (member count, total declared size, compression ratio) come from ``policy.archive``.
A member is only ever read through ``ZipFile.open``, which stops at the size the directory
declares, so a member that lies about its size cannot inflate past the limits either. Nothing
is unpacked to disk.
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from safetymonth.config import Policy
from safetymonth.filenames import plain_name
from safetymonth.validator import messages
from safetymonth.validator.verdict import Code, Kind, Verdict

UTF8_FLAG = 0x800
ENCRYPTED_FLAG = 0x1
DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
END_SEARCH = 22 + 65535  # the end record, and the longest comment it may carry
# A directory entry is 46 bytes plus its name and extra fields; 4 KiB is far more than any
# real one needs, and still bounds what a lying end record can make us read.
MAX_DIRECTORY_ENTRY = 4096


@dataclass(frozen=True)
class Member:
    info: zipfile.ZipInfo
    name: str  # the recovered name, as the sender's tool showed it
    index: int  # its place in the directory, by which a sandbox worker opens it


def member_name(info: zipfile.ZipInfo) -> str:
    """The member name as written, without the characters that make it read otherwise
    (:func:`~safetymonth.filenames.plain_name`)."""
    return plain_name(_written_name(info))


def _written_name(info: zipfile.ZipInfo) -> str:
    """Chinese Windows tools write GBK without the UTF-8 flag, which Python decodes as cp437
    mojibake; the original bytes are recovered and decoded."""
    if info.flag_bits & UTF8_FLAG:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def member_at(archive: zipfile.ZipFile, position: int) -> zipfile.ZipInfo | None:
    """The member a verdict was recorded for, by position, never by name (two members may
    share one): ``position`` >= 0 is its index in the central directory
    (:attr:`Member.index`); a store written before positions were kept has -n for the n-th
    file, directories not counted, the order its verdicts were recorded in."""
    infos = archive.infolist()
    if position < 0:
        infos = [info for info in infos if not info.is_dir()]
        position = -position - 1
    return infos[position] if position < len(infos) else None


def escapes(name: str) -> bool:
    """Whether a member name points outside the folder it would be unpacked into."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or DRIVE_LETTER.match(normalised):
        return True
    return ".." in normalised.split("/")


def directory_problem(stream: BinaryIO, policy: Policy) -> str | None:
    """A reason to refuse the archive read from its end record alone, before ``ZipFile``
    loads the whole central directory into memory (a million declared members took 400 MB):
    too many members, or a directory far larger than that many members need. None when the
    record is fine or missing (``ZipFile`` then reports the archive as damaged)."""
    declared = _end_record(stream)
    if declared is None:
        return None
    count, directory_size = declared
    limit = policy.archive.max_members
    if count > limit:
        return _too_many(count, limit)
    if directory_size > limit * MAX_DIRECTORY_ENTRY:
        return f"压缩包目录有{messages.human_size(directory_size)}，远超{limit}个文件所需"
    return None


def _end_record(stream: BinaryIO) -> tuple[int, int] | None:
    """(member count, central directory size) from the end of central directory record,
    and from its ZIP64 version where the classic fields overflow."""
    size = stream.seek(0, 2)
    stream.seek(max(0, size - END_SEARCH))
    tail = stream.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    count, directory_size = struct.unpack("<HI", tail[at + 10:at + 16])
    if count != 0xFFFF and directory_size != 0xFFFFFFFF:
        return count, directory_size
    locator = tail[at - 20:at] if at >= 20 else b""
    if not locator.startswith(b"PK\x06\x07"):
        return count, directory_size
    offset = struct.unpack("<Q", locator[8:16])[0]
    if offset + 56 > size:  # up to 2^64-1: never a seek past the file (ValueError)
        return None  # a locator pointing nowhere: ZipFile reports the archive as damaged
    stream.seek(offset)
    record = stream.read(56)
    if len(record) < 56 or not record.startswith(b"PK\x06\x06"):
        return None
    count64, directory_size64 = struct.unpack("<QQ", record[32:48])
    return count64, directory_size64


def _too_many(count: int, limit: int) -> str:
    return f"包含{count}个文件，超过上限{limit}个"


def archive_problem(archive: zipfile.ZipFile, policy: Policy) -> str | None:
    """A reason the archive as a whole is refused, or None."""
    limits = policy.archive
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        return _too_many(len(infos), limits.max_members)
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_size:
        return (f"解压后共{messages.human_size(total)}，"
                f"超过上限{messages.human_size(limits.max_total_size)}")
    return None


def members(archive: zipfile.ZipFile, archive_name: str,
            policy: Policy) -> Iterator[Member | Verdict]:
    """Each file in the archive: a Member safe to read, or the Verdict that refuses it."""
    for index, info in enumerate(archive.infolist()):
        name = member_name(info)
        if info.is_dir():
            continue
        refused = _member_problem(info, name, policy)
        if refused:
            code, message = refused
            path = f"{archive_name}!{name}"
            yield Verdict(path=path, kind=Kind.ARCHIVE, member=index).fail(code, message)
        else:
            yield Member(info, name, index)


def _member_problem(info: zipfile.ZipInfo, name: str,
                    policy: Policy) -> tuple[Code, str] | None:
    if escapes(name):
        return Code.UNSAFE_ARCHIVE, messages.unsafe_archive(f"文件名“{name}”指向压缩包以外的位置")
    if info.flag_bits & ENCRYPTED_FLAG:
        return Code.UNSUPPORTED_TYPE, "压缩包内文件已加密，无法检查，请去掉密码后重新发送"
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > 1024 * 1024 and ratio > policy.archive.max_ratio:
        return Code.UNSAFE_ARCHIVE, messages.unsafe_archive(
            f"压缩比{ratio:.0f}倍，超过上限{policy.archive.max_ratio:.0f}倍，疑似压缩炸弹")
    return None
