"""Zip archives, judged from their central directory before a single byte is inflated.

Limits (member count, total declared size, compression ratio) come from ``policy.archive``.
A member is only ever read through ``ZipFile.open``, which stops at the size the directory
declares, so a member that lies about its size cannot inflate past the limits either. Nothing
is unpacked to disk.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from safetymonth.config import Policy
from safetymonth.validator import messages
from safetymonth.validator.verdict import Code, Kind, Verdict

UTF8_FLAG = 0x800
ENCRYPTED_FLAG = 0x1
DRIVE_LETTER = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Member:
    info: zipfile.ZipInfo
    name: str  # the recovered name, as the sender's tool showed it


def member_name(info: zipfile.ZipInfo) -> str:
    """The member name as written. Chinese Windows tools write GBK without the UTF-8 flag,
    which Python decodes as cp437 mojibake; the original bytes are recovered and decoded."""
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


def escapes(name: str) -> bool:
    """Whether a member name points outside the folder it would be unpacked into."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or DRIVE_LETTER.match(normalised):
        return True
    return ".." in normalised.split("/")


def archive_problem(archive: zipfile.ZipFile, policy: Policy) -> str | None:
    """A reason the archive as a whole is refused, or None."""
    limits = policy.archive
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        return f"包含{len(infos)}个文件，超过上限{limits.max_members}个"
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_size:
        return (f"解压后共{messages.human_size(total)}，"
                f"超过上限{messages.human_size(limits.max_total_size)}")
    return None


def members(archive: zipfile.ZipFile, archive_name: str,
            policy: Policy) -> Iterator[Member | Verdict]:
    """Each file in the archive: a Member safe to read, or the Verdict that refuses it."""
    for info in archive.infolist():
        name = member_name(info)
        if info.is_dir():
            continue
        refused = _member_problem(info, name, policy)
        if refused:
            code, message = refused
            path = f"{archive_name}!{name}"
            yield Verdict(path=path, kind=Kind.ARCHIVE).fail(code, message)
        else:
            yield Member(info, name)


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
