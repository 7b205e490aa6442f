"""The validator's one entry point: sniff a file, send it to its probe, judge it by the policy."""

from __future__ import annotations

import logging
import stat
import zipfile
from pathlib import Path, PurePath
from typing import BinaryIO

from safetymonth.config import Policy, SizeRule
from safetymonth.validator import archive, messages, sniff
from safetymonth.validator.formats import (
    avi,
    document,
    jpeg,
    media,
    mp4,
    mpegstream,
    pillow,
    png,
    psd,
)
from safetymonth.validator.formats.base import READ_ERRORS, new, sandboxed
from safetymonth.validator.sandbox import Source
from safetymonth.validator.verdict import Code, Kind, Verdict

log = logging.getLogger("safetymonth.validator")
SIZED = (Kind.PHOTO, Kind.VIDEO)  # the kinds a policy names formats and sizes for


def check_file(path: Path, policy: Policy, name: str | None = None) -> list[Verdict]:
    """Verdicts for one file: one, or one per member of a zip (see the package docstring).
    Never raises: whatever the file does to a probe ends as a verdict. Thread-safe."""
    display = name if name is not None else str(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
            return [Verdict(path=display).fail(Code.UNSUPPORTED_TYPE, messages.not_a_file())]
        with path.open("rb") as stream:
            return check_stream(stream, info.st_size, display, policy, Source(str(path)))
    except OSError as error:
        verdict = Verdict(path=display)
        return [verdict.fail(Code.CORRUPT, f"文件无法读取（{error.strerror}），请重新发送")]
    except Exception:  # a probe's bug on hostile input: a verdict, and the trace in the log
        log.exception("%s: the check failed", display)
        return [Verdict(path=display).fail(Code.CORRUPT, messages.corrupt("other", "无法解析"))]


def check_stream(stream: BinaryIO, size: int, name: str, policy: Policy,
                 source: Source) -> list[Verdict]:
    """Verdicts for an open binary stream of ``size`` bytes named ``name``; ``source`` says
    where a sandbox worker finds the same bytes (a file, or a member of a zip)."""
    if size == 0:
        return [Verdict(path=name).fail(Code.EMPTY, messages.empty())]
    stream.seek(0)
    found = sniff.sniff(stream.read(sniff.HEAD_SIZE))
    if found is None:
        message = messages.unsupported_type(f"“{PurePath(name).name}”", policy.photo.formats,
                                            policy.video.formats, policy.document.formats)
        return [Verdict(path=name).fail(Code.UNSUPPORTED_TYPE, message)]
    if size > policy.max_file_size:
        verdict = Verdict(path=name, kind=found.kind, format=found.format)
        return [verdict.fail(Code.TOO_LARGE, messages.too_large(size, policy.max_file_size))]
    if found.family == "OTHER_ARCHIVE":  # RAR, 7z: no reader for them here
        verdict = Verdict(path=name, kind=Kind.ARCHIVE, format=found.format)
        return [verdict.fail(Code.UNSUPPORTED_TYPE, messages.other_archive(found.format or ""))]
    if found.family == "ZIP":
        return _check_zip(stream, name, policy, source)
    verdict = _probe(found, stream, size, name, policy, source)
    return [_judge(verdict, name, policy)]


def _probe(found: sniff.Sniffed, stream: BinaryIO, size: int, name: str, policy: Policy,
           source: Source) -> Verdict:
    family = found.family
    if family == "JPEG":
        return jpeg.probe(stream, size, policy, source)
    if family == "PNG":
        return png.probe(stream, size, policy)
    if family == "PSD":
        return psd.probe(stream, size, policy, source)
    if family == "IMAGE":
        return pillow.probe(stream, size, policy, found.format or "")
    if family == "PDF":
        return document.probe_pdf(stream, size)
    if family == "OLE2":
        return document.probe_ole(stream, name)
    if found.kind is Kind.PHOTO:  # HEIC, AVIF
        return sandboxed(new(Kind.PHOTO, found.format), policy, media.probe_still, source,
                         found.format or "")
    if family == "MPEG":  # program and transport streams: one FFmpeg open, no MediaInfo
        return sandboxed(new(Kind.VIDEO, None), policy, mpegstream.probe, source, size,
                         policy.video.decode == "frame")
    # MP4/MOV and AVI headers are read directly (their indexes grow with length); MediaInfo
    # reads the other video formats, and any file the direct readers find no video track in.
    direct = {"ISOBMFF": mp4.probe, "AVI": avi.probe}.get(family)
    verdict = direct(stream, size, policy, source) if direct else None
    if verdict is not None:
        return verdict
    verdict = sandboxed(new(Kind.VIDEO, found.format), policy, media.probe_video, source,
                        policy.video.decode == "frame")
    verdict.format = verdict.format or found.format
    return verdict


def _check_zip(stream: BinaryIO, name: str, policy: Policy, source: Source) -> list[Verdict]:
    whole = Verdict(path=name, kind=Kind.ARCHIVE, format="ZIP")
    try:  # an offset or size from the file can be anything up to 2^64-1
        problem = archive.directory_problem(stream, policy)
        if problem:  # judged from the end record, before Python loads the whole directory
            return [whole.fail(Code.UNSAFE_ARCHIVE, messages.unsafe_archive(problem))]
        bundle = zipfile.ZipFile(stream)
    except READ_ERRORS:
        return [whole.fail(Code.CORRUPT, messages.corrupt("archive", "压缩包目录无法读取"))]
    with bundle:
        office = document.ooxml_format(bundle)
        if office:
            return [_judge(document.probe_ooxml(bundle, office), name, policy)]
        if source.member is not None:
            verdict = Verdict(path=name, kind=Kind.ARCHIVE, format="ZIP")
            return [verdict.fail(Code.UNSUPPORTED_TYPE, "压缩包内又套压缩包，请直接打包照片和视频")]
        return _check_members(bundle, name, policy, source.path)


def _check_members(bundle: zipfile.ZipFile, name: str, policy: Policy,
                   archive_path: str) -> list[Verdict]:
    whole = Verdict(path=name, kind=Kind.ARCHIVE, format="ZIP")
    problem = archive.archive_problem(bundle, policy)
    if problem:
        return [whole.fail(Code.UNSAFE_ARCHIVE, messages.unsafe_archive(problem))]
    verdicts: list[Verdict] = []
    for member in archive.members(bundle, name, policy):
        if isinstance(member, Verdict):
            verdicts.append(member)
            continue
        member_path = f"{name}!{member.name}"
        try:
            with bundle.open(member.info) as stream:
                found = check_stream(stream, member.info.file_size, member_path, policy,
                                     Source(archive_path, member.index))
        except READ_ERRORS:
            broken = Verdict(path=member_path, kind=Kind.ARCHIVE)
            found = [broken.fail(Code.CORRUPT,
                                 messages.corrupt("archive", "压缩包内文件无法解压"))]
        for verdict in found:
            verdict.member = member.index
        verdicts += found
    if not verdicts:
        return [whole.fail(Code.EMPTY, "压缩包内没有文件，请重新打包后发送")]
    return verdicts


def _judge(verdict: Verdict, name: str, policy: Policy) -> Verdict:
    """Apply the policy to what the probe found, and name the file."""
    verdict.path = name
    suffix = PurePath(name.rsplit("!", 1)[-1]).suffix  # of the member, for ARCHIVE!MEMBER
    if suffix and sniff.extension_mismatch(suffix, verdict.format):
        verdict.warn(Code.EXTENSION_MISMATCH,
                     messages.extension_mismatch(suffix, verdict.format or ""))
    allowed = _allowed_formats(verdict.kind, policy)
    refused = bool(verdict.format) and verdict.kind in SIZED and verdict.format not in allowed
    if refused:
        # An FLV, a WMV or a 3GP: "send an MP4" is the one useful sentence, whatever state
        # its tracks are in, so a damaged one is not told to "re-export" itself.
        damaged = [r for r in verdict.reasons if r.code is Code.CORRUPT]
        verdict.reasons = [r for r in verdict.reasons if r.code is not Code.CORRUPT]
        verdict.fail(Code.FORMAT_NOT_ALLOWED,
                     messages.format_not_allowed(verdict.kind, verdict.format or "", allowed))
        if damaged:
            return verdict  # its size, if any, is not to be trusted
    if any(r.code in (Code.CORRUPT, Code.TOO_LARGE, Code.UNSUPPORTED_TYPE)
           for r in verdict.reasons):
        return verdict  # the probe could not see what the policy would judge
    if not refused and verdict.format not in allowed:
        verdict.fail(Code.FORMAT_NOT_ALLOWED,
                     messages.format_not_allowed(verdict.kind, verdict.format or "", allowed))
    rule = {Kind.PHOTO: policy.photo, Kind.VIDEO: policy.video}.get(verdict.kind)
    inclusive = policy.inclusive_for(rule) if rule else True
    if rule and verdict.width and verdict.height and not meets(verdict, rule, inclusive):
        verdict.fail(Code.RESOLUTION_TOO_LOW, messages.resolution_too_low(
            verdict.kind, verdict.width, verdict.height, rule.min_long_side,
            rule.min_short_side, inclusive))
    return verdict


def _allowed_formats(kind: Kind, policy: Policy) -> list[str]:
    rules = {Kind.PHOTO: policy.photo.formats, Kind.VIDEO: policy.video.formats,
             Kind.DOCUMENT: policy.document.formats}
    return rules.get(kind, [])


def meets(verdict: Verdict, rule: SizeRule, inclusive: bool) -> bool:
    """Orientation-agnostic: the long side against the long minimum, the short against the
    short. Inclusive means "at least"; exclusive means strictly above (大于)."""
    long_side = max(verdict.width or 0, verdict.height or 0)
    short_side = min(verdict.width or 0, verdict.height or 0)
    if inclusive:
        return long_side >= rule.min_long_side and short_side >= rule.min_short_side
    return long_side > rule.min_long_side and short_side > rule.min_short_side
