"""Videos (and HEIF/AVIF stills) through MediaInfo, with the fastest parse it offers.

Matroska, WebM and the rest come here; MP4/MOV and AVI are read by their own header readers
(``mp4``, ``avi``) and come here only when those find no video track, and MPEG-PS and
MPEG-TS/BDAV are read by FFmpeg alone (``mpegstream``), which opens them for the frame decode
anyway. The PS and TS names below are kept for the files that still reach MediaInfo.
MediaInfo names containers, not the campaign's formats, so they are mapped here:

- MP4 and MOV both report General.Format ``MPEG-4``; MOV is told apart by the QuickTime profile
  or the ``qt  `` brand, and 3GP by its 3GPP profile.
- MPG2 means an MPEG program stream carrying MPEG-2 video (``Version 2``); MPEG-1 video in a
  ``.mpg`` is reported as MPEG-1, which is not MPG2.
- MTS is BDAV (192-byte packets, from AVCHD cameras). A plain 188-byte MPEG transport stream
  is reported as ``TS``: the notices name MTS, so the default policy rejects TS with a request
  to convert; a bureau that wants it adds ``TS`` to ``policy.video.formats``.

MediaInfo reads up to 134 MB of a transport stream by default, so a 1 GB TS would take about
a second; ``MpegTs_MaximumOffset`` caps that. Such options live in MediaInfo's global state,
which is not thread-safe. ``probe_video`` and ``probe_still`` therefore run only inside the
sandbox's single-threaded workers (``check`` sends them there), where a file that makes
MediaInfo hang or balloon costs that worker, not the service.
"""

from __future__ import annotations

from typing import BinaryIO

from pymediainfo import MediaInfo

from safetymonth.validator.formats import frame
from safetymonth.validator.formats.base import NO_VIDEO, READ_ERRORS, corrupt, new
from safetymonth.validator.sandbox import Source
from safetymonth.validator.verdict import Kind, Verdict

MEDIAINFO_OPTIONS = {
    "MpegTs_MaximumOffset": str(64 * 1024),
    "File_TestContinuousFileNames": "0",  # never go looking for img001, img002, ... siblings
}

CONTAINERS = {
    "AVI": "AVI", "BDAV": "MTS", "MPEG-TS": "TS", "Matroska": "MKV", "WebM": "WEBM",
    "Flash Video": "FLV", "Windows Media": "WMV",
}


class _BinaryStream:
    """A stream as pymediainfo accepts it: it refuses one whose ``mode`` lacks "b", and a zip
    member's (``ZipExtFile.mode``) is "r"."""

    mode = "rb"

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()


def parse(source: Source) -> MediaInfo:
    """One MediaInfo parse; headers only (``parse_speed=0``). A file is read by MediaInfo
    itself, which is faster than feeding it a stream; a zip member is fed as one."""
    if source.member is None:
        return MediaInfo.parse(source.path, parse_speed=0, mediainfo_options=MEDIAINFO_OPTIONS)
    with source.open() as stream:
        return MediaInfo.parse(_BinaryStream(stream), parse_speed=0,  # type: ignore[arg-type]
                               mediainfo_options=MEDIAINFO_OPTIONS)


def probe_video(source: Source, decode: bool = False) -> Verdict:
    """Runs in a sandbox worker. ``decode``: the first keyframe is decoded as well, and its
    size is the verdict's (MediaInfo reports the headers' claims: an MPEG-2 sequence header of
    4095×4095 over 320×180 slices is "4095×4095" to it, and to no decoder)."""
    verdict = new(Kind.VIDEO, None)
    try:
        info = parse(source)
    except READ_ERRORS:
        return corrupt(verdict, "无法解析")
    general = info.general_tracks[0] if info.general_tracks else None
    video = info.video_tracks[0] if info.video_tracks else None
    verdict.format = container_format(general, video)
    if general is not None and general.istruncated == "Yes":
        _fill_size(verdict, video)
        return corrupt(verdict, "文件不完整，可能在传输中被截断")
    if video is None:
        return corrupt(verdict, NO_VIDEO)
    if not _fill_size(verdict, video):
        return corrupt(verdict, "无法读取视频分辨率")
    if decode:
        turned = round(_number(getattr(video, "rotation", None)) or 0) % 180 == 90
        frame.apply(verdict, frame.first_picture(source), turned)
    return verdict


def probe_still(source: Source, fmt: str) -> Verdict:
    """HEIF/AVIF stills: not campaign formats, but the reply names the size all the same.
    Runs in a sandbox worker."""
    verdict = new(Kind.PHOTO, fmt)
    try:
        info = parse(source)
    except READ_ERRORS:
        return corrupt(verdict, "无法解析")
    image = (info.image_tracks or info.video_tracks or [None])[0]
    _fill_size(verdict, image)
    return verdict


def container_format(general: object, video: object) -> str | None:
    """The campaign's name for the container (see the module docstring)."""
    name = getattr(general, "format", None)
    if name == "MPEG-4":
        profile = getattr(general, "format_profile", None) or ""
        codec_id = (getattr(general, "codec_id", None) or "").strip()
        if profile == "QuickTime" or codec_id == "qt":
            return "MOV"
        if "3GPP" in profile or codec_id.startswith("3g"):
            return "3GP"
        return "MP4"
    if name == "MPEG-PS":
        version = getattr(video, "format_version", None)
        if getattr(video, "format", None) == "MPEG Video":
            return "MPG2" if version == "Version 2" else "MPEG-1"
        return "MPEG-PS"
    return CONTAINERS.get(name, name)


def _fill_size(verdict: Verdict, track: object) -> bool:
    """Displayed size: the display aspect ratio widens anamorphic frames, and a rotation of
    90 or 270 degrees trades width and height."""
    width = _number(getattr(track, "width", None))
    height = _number(getattr(track, "height", None))
    if not width or not height:
        return False
    ratio = _number(getattr(track, "display_aspect_ratio", None))
    if ratio and abs(ratio - width / height) > 0.01:
        width = round(height * ratio)
    rotation = round(_number(getattr(track, "rotation", None)) or 0) % 360
    if rotation in (90, 270):
        width, height = height, width
    verdict.width, verdict.height = int(width), int(height)
    return True


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
