"""Videos (and HEIF/AVIF stills) through MediaInfo, with the fastest parse it offers; the
plugin that registers every video format and the two ISO base media stills (the end of this
module), as they share its reader.

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

from dataclasses import replace
from typing import TYPE_CHECKING, Any, BinaryIO

from safetymonth.validator.formats import avi, frame, mp4, mpegstream, registry
from safetymonth.validator.formats.base import NO_VIDEO, READ_ERRORS, corrupt, new, sandboxed
from safetymonth.validator.formats.registry import Format, Job
from safetymonth.validator.sandbox import Source
from safetymonth.validator.verdict import Kind, Verdict

if TYPE_CHECKING:
    from pymediainfo import MediaInfo

MEDIAINFO_OPTIONS = {
    "MpegTs_MaximumOffset": str(64 * 1024),
    "File_TestContinuousFileNames": "0",  # never go looking for img001, img002, ... siblings
}

# MediaInfo's General.Format for the containers it names alone; filled as they register below.
CONTAINERS: dict[str, str] = {}


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
    from pymediainfo import MediaInfo  # here, not at the top: config loads this module

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


# --- the formats this module reads, in sniff order --------------------------------------------

# ISO base media brands that are still images, not videos.
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
AVIF_BRANDS = {b"avif", b"avis"}
# Atoms that open a QuickTime file written without an ftyp box (old cameras and editors).
QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
EBML = b"\x1a\x45\xdf\xa3"  # Matroska and WebM: the DocType near the start says which
TO_MP4 = "请转换为MP4后重新报送"
PARSERS = ("pymediainfo", "av")  # MediaInfo, and FFmpeg for the frame decode
STREAM_PARSERS = ("av", "safetymonth.validator.formats.mpegstream")  # FFmpeg alone


def _brands(head: bytes) -> set[bytes]:
    """The major and the compatible brands of a leading ``ftyp`` box (MP4, MOV, 3GP, HEIC,
    AVIF all share the ISO base media layout)."""
    return {head[8:12]} | {head[i:i + 4] for i in range(16, min(len(head), 64), 4)}


def _heic(head: bytes) -> bool:
    brand, brands = head[8:12], _brands(head)
    return head[4:8] == b"ftyp" and (brand in HEIF_BRANDS or (
        brand not in AVIF_BRANDS and bool(brands & HEIF_BRANDS) and b"isom" not in brands))


def _avif(head: bytes) -> bool:  # tried after HEIC
    return head[4:8] == b"ftyp" and bool(_brands(head) & AVIF_BRANDS)


def _iso_media(head: bytes) -> bool:  # tried after both stills
    return head[4:8] == b"ftyp" or head[4:8] in QUICKTIME_ATOMS


def _packets(offset: int, size: int) -> registry.Magic:
    """Three sync bytes (0x47) ``size`` apart from ``offset``: a transport stream."""
    positions = [offset + size * n for n in range(3)]
    return lambda head: len(head) > positions[-1] and all(head[p] == 0x47 for p in positions)


def _still(job: Job) -> Verdict:
    """HEIC, AVIF: MediaInfo in a sandbox worker."""
    return sandboxed(new(Kind.PHOTO, job.named), job.policy, probe_still, job.source,
                     job.named or "")


def _video(job: Job) -> Verdict:
    """MediaInfo in a sandbox worker names the container and reads the size."""
    verdict = sandboxed(new(Kind.VIDEO, job.named), job.policy, probe_video, job.source,
                        job.policy.video.decode == "frame")
    verdict.format = verdict.format or job.named
    return verdict


def _mpeg(job: Job) -> Verdict:
    """Program and transport streams: one bounded FFmpeg open in a sandbox worker names the
    format (MPG2, MPEG-1, MTS, TS) and reads the size, no MediaInfo."""
    return sandboxed(new(Kind.VIDEO, None), job.policy, mpegstream.probe, job.source, job.size,
                     job.policy.video.decode == "frame")


def _iso_video(job: Job) -> Verdict:
    """MP4/MOV headers are read directly (their indexes grow with length); MediaInfo reads a
    file the direct reader finds no video track in."""
    verdict = mp4.probe(job.stream, job.size, job.policy, job.source)
    return verdict if verdict is not None else _video(job)


def _avi(job: Job) -> Verdict:
    """As for MP4: AVI's headers read directly, MediaInfo when they hold no video track."""
    verdict = avi.probe(job.stream, job.size, job.policy, job.source)
    return verdict if verdict is not None else _video(job)


def _register(fmt: Format, mediainfo: str | None = None) -> None:
    """``mediainfo``: MediaInfo's own name for the container, when that alone names it."""
    registry.register(fmt)
    if mediainfo:
        CONTAINERS[mediainfo] = fmt.name


def _photo(name: str, extensions: tuple[str, ...], magic: registry.Magic, fix: str) -> Format:
    return Format(name, Kind.PHOTO, extensions=extensions, magic=magic, probe=_still, fix=fix,
                  sandbox=PARSERS[:1], thumbnail="photo")


def _movie(name: str, extensions: tuple[str, ...], **changes: Any) -> Format:
    """A video format; unless ``changes`` say otherwise, read by MediaInfo (``_video``)."""
    return replace(Format(name, Kind.VIDEO, extensions=extensions, probe=_video,
                          sandbox=PARSERS, thumbnail="poster"), **changes)


_register(_photo("HEIC", (".heic", ".heif", ".hif"), _heic,
                 "请在苹果手机“设置—相机—格式”中选择“兼容性最佳”，或转换为JPG后重新报送"))
_register(_photo("AVIF", (".avif",), _avif, "请转换为JPG后重新报送"))
# MediaInfo's "MPEG-4" is MP4, MOV or 3GP, and its "MPEG-PS" MPG2 or MPEG-1: container_format.
_register(_movie("MP4", (".mp4", ".m4v"), magic=_iso_media, settles=False, probe=_iso_video))
_register(_movie("MOV", (".mov", ".qt"), probe=None, fix=TO_MP4))  # named by MP4's reader
_register(_movie("3GP", (".3gp", ".3g2"), probe=None))
_register(_movie("MPG2", (".mpg", ".mpeg", ".mpg2", ".m2p", ".vob", ".mpe"),
                 aliases=("MPEG2", "MPEG-2"), magic=registry.starts(b"\x00\x00\x01\xba"),
                 settles=False, probe=_mpeg, sandbox=STREAM_PARSERS))
_register(_movie("MPEG-1", (".mpg", ".mpeg", ".m1v", ".mpe", ".dat"), aliases=("MPEG1",),
                 probe=None, fix="请用原始视频或转换为MP4后重新报送"))
_register(_movie("AVI", (".avi",), magic=lambda head: head[:4] == b"RIFF"
                 and head[8:12] == b"AVI ", probe=_avi), mediainfo="AVI")
# BDAV (192-byte packets, from AVCHD cameras) or a plain 188-byte MPEG-TS: mpegstream says.
_register(_movie("MTS", (".mts", ".m2ts", ".m2t"), aliases=("M2TS",), magic=_packets(4, 192),
                 settles=False, probe=_mpeg, sandbox=STREAM_PARSERS), mediainfo="BDAV")
_register(_movie("TS", (".ts", ".mts", ".m2ts", ".m2t", ".tsv"), label="TS（MPEG传输流）",
                 magic=_packets(0, 188), settles=False, probe=_mpeg, sandbox=STREAM_PARSERS,
                 fix="这是普通的TS传输流（188字节包），不是摄像机录制的MTS（BDAV）文件，"
                     "请转换为MP4后重新报送"), mediainfo="MPEG-TS")
_register(_movie("MKV", (".mkv",), magic=lambda head: head.startswith(EBML)
                 and b"webm" not in head[:64], settles=lambda head: b"matroska" in head[:64]),
          mediainfo="Matroska")
_register(_movie("WEBM", (".webm",), label="WebM", magic=lambda head: head.startswith(EBML)
                 and b"webm" in head[:64]), mediainfo="WebM")
_register(_movie("FLV", (".flv",), magic=registry.starts(b"FLV\x01")), mediainfo="Flash Video")
_register(_movie("WMV", (".wmv", ".asf"),
                 magic=registry.starts(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11")),
          mediainfo="Windows Media")
