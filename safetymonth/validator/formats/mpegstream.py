"""MPEG program streams (MPG2, MPEG-1) and transport streams (MTS, TS): one FFmpeg open.

FFmpeg (PyAV) opens these files for the first keyframe's decode anyway, and MediaInfo's parse
of them cost 10-14 ms of CPU on top (the largest cost per file of the mixed corpus). So one
bounded FFmpeg open in the sandbox worker (``frame.OPEN_OPTIONS``: a 64 KB probe, at most
``frame.MAX_PACKETS`` / ``MAX_BYTES`` read to the first keyframe, no seeks) gives everything a
verdict reports, as MediaInfo named it:

- the format: a program stream by its video codec, as FFmpeg's parser finds it in the
  sequence extension (MPEG-2 video is MPG2, MPEG-1 video is MPEG-1, which is not MPG2, and
  any other codec is "MPEG-PS"); a transport stream by its packet size (192 bytes: BDAV,
  from AVCHD cameras, MTS; 188: a plain TS, which the default policy refuses);
- the size: the codec's own header in the first keyframe (the MPEG-1/2 sequence header, the
  H.264 SPS; FFmpeg's parser for other codecs), or, with ``decode``, the size that keyframe
  decodes to: a sequence header of 4095x4095 over 320x180 slices decodes to nothing;
- whether the file ends whole (:mod:`mpegtail`, from its last 64 KB).

It runs only inside a sandbox worker (``check`` sends it there), under its limits.
"""

from __future__ import annotations

from typing import Any

from safetymonth.validator.formats import codecs, frame, mpegtail
from safetymonth.validator.formats.base import NO_VIDEO, READ_ERRORS, corrupt, new, read_tail
from safetymonth.validator.formats.picture import Picture
from safetymonth.validator.sandbox import Source
from safetymonth.validator.verdict import Kind, Verdict

HEAD_SIZE = 1024
PROGRAM_FORMATS = {"mpeg2video": "MPG2", "mpeg1video": "MPEG-1"}
HEADER_CODECS = {"h264": "H264", "mpeg2video": "MPEG2", "mpeg1video": "MPEG2",
                 "mpeg4": "MPEG4"}  # FFmpeg's codec -> the header parser of ``codecs``
TRUNCATED = "文件不完整，可能在传输中被截断"
NO_SIZE = "无法读取视频分辨率"


def probe(source: Source, size: int, decode: bool) -> Verdict:
    """Runs in a sandbox worker: the verdict of a program or transport stream of ``size``
    bytes; ``decode``: its first keyframe is decoded, and the decoded size is the verdict's."""
    import av  # the worker's own import: the parent never loads FFmpeg

    verdict = new(Kind.VIDEO, None)
    try:  # a zip member's bytes can fail to inflate anywhere
        with source.open() as stream:
            packing = mpegtail.layout(stream.read(HEAD_SIZE))
            _, tail = read_tail(stream, size, mpegtail.TAIL_SIZE)
    except READ_ERRORS:
        return corrupt(verdict, "无法解析")
    verdict.format = packing.name
    av.logging.set_level(av.logging.ERROR)
    with av.logging.Capture() as logs:
        try:
            if source.member is None:
                return _read(av, source.path, verdict, (packing, tail, size), decode, logs)
            with source.open() as stream:
                return _read(av, stream, verdict, (packing, tail, size), decode, logs)
        except (av.FFmpegError, *READ_ERRORS):  # ValueError: PyAV's own, on odd values
            return corrupt(verdict, "无法解析")


def _read(av: Any, target: Any, verdict: Verdict, end: tuple[mpegtail.Layout, bytes, int],
          decode: bool, logs: list[tuple[int, str, str]]) -> Verdict:
    packing, tail, size = end
    # Tags in a legacy code page are no reason to refuse a file: they are not used here.
    with av.open(target, options=frame.OPEN_OPTIONS, metadata_errors="replace") as container:
        video = next((s for s in container.streams if s.type == "video"), None)
        codec = video.codec_context if video is not None else None
        name = codec.name if codec is not None else ""
        if packing is mpegtail.PROGRAM and video is not None:
            verdict.format = PROGRAM_FORMATS.get(name, packing.name)
        cut = mpegtail.is_cut(tail, size, packing, video.id if video is not None else None)
        if video is None:
            return corrupt(verdict, TRUNCATED if cut else NO_VIDEO)
        if logs:
            return corrupt(verdict, "文件结构有误，播放器无法正常打开")
        if codec is None:
            return corrupt(verdict, frame.NO_DECODER)
        codec.thread_count = 1  # one picture: threads would only cost memory and start-up
        packet = frame.first_keyframe_packet(container, video, logs)
        picture = _declared(name, codec, packet)
        if picture is not None:
            verdict.width, verdict.height = picture.displayed()
        if cut:
            return corrupt(verdict, TRUNCATED)
        if isinstance(packet, str):
            return corrupt(verdict, packet)
        if picture is None:
            return corrupt(verdict, NO_SIZE)
        if decode:
            frame.apply(verdict, frame.decode_keyframe(video, codec, packet, logs), False)
        return verdict


def _declared(name: str, codec: Any, packet: Any) -> Picture | None:
    """The picture the keyframe's codec header declares; FFmpeg's parser's for a codec we
    have no header reader for. None when there is no keyframe or no plausible size."""
    if isinstance(packet, str):
        return None
    key = HEADER_CODECS.get(name)
    try:
        picture = codecs.from_frame(key, bytes(packet)) if key else None
    except codecs.Short:
        return None
    if picture is None:
        sar = codec.sample_aspect_ratio
        picture = Picture(codec.width, codec.height, float(sar) if sar else 1.0)
    return picture if picture.plausible() else None
