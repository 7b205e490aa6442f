"""One picture of a video decoded in a sandbox worker (``policy.video.decode: frame``).

Headers can all agree and still no player open the file: a broken sample table, a parameter
set the decoder refuses, a codec no decoder knows. And the size a player shows is the size the
decoder outputs. So the first keyframe is decoded by FFmpeg (PyAV, which ships its own build)
in a sandbox worker, under its memory and time limits, and its size is the verdict's.

The cost does not grow with the video. MP4 and AVI name their first frame's place in their
headers, which our own readers have checked: that one sample is read and handed to the
decoder (:class:`Sample`, :func:`decode_sample`), with no demuxer, since FFmpeg's MP4 and AVI
demuxers read the whole index when they open a file (0.7 s for 1 GB). Other containers
(MPEG-PS, MTS, fragmented MP4, a codec we do not map) are opened by FFmpeg with a bounded
probe (``probesize``), and only the packets up to the first keyframe are read (at most
``MAX_PACKETS`` / ``MAX_BYTES``). Either way the decoder is flushed after that keyframe, so no
later frame is decoded, and nothing seeks. An error FFmpeg logs
while opening the file or decoding that picture makes the file ``corrupt``, as
``ffmpeg -v error`` shows such errors, and so does a keyframe packet the demuxer marks
corrupt (a transport stream packet of it lost: ``ffmpeg -xerror`` stops on it); errors on
packets before the first keyframe (a recording cut in the middle of a group of pictures) do
not count.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from safetymonth.config import Policy
from safetymonth.validator.formats.base import corrupt, sandboxed
from safetymonth.validator.formats.picture import Picture
from safetymonth.validator.sandbox import Source
from safetymonth.validator.verdict import Verdict

MAX_PACKETS = 300  # packets of the video stream read to reach its first keyframe
MAX_BYTES = 64 * 1024 * 1024
# Opening a file, FFmpeg reads ahead to identify its streams (5 MB and 5 s by default) and,
# for H.264, decodes up to 7 frames to guess the reorder delay: twice our decode's cost, for
# nothing we use. So it reads at most 64 KB / 0.1 s (a program or transport stream names its
# video in its first packets), and the decoders it opens for that skip every frame
# (``skip_frame``, a per-stream codec option); ours, opened afterwards, does not.
OPEN_OPTIONS = {"probesize": str(64 * 1024), "analyzeduration": "100000",
                "threads": "1", "skip_frame": "all"}
NO_DECODER = "视频编码无法识别，播放器无法解码"
UNDECODABLE = "视频画面无法解码"
DAMAGED_PACKET = "视频第一帧的数据不完整（数据包缺失或损坏）"


@dataclass(frozen=True)
class Sample:
    """A container's first keyframe, where its headers put it: enough for a decoder alone."""

    codec: str  # FFmpeg's decoder name
    offset: int  # checked by the caller to lie inside the file
    size: int
    extradata: bytes = b""  # the decoder configuration (avcC, hvcC, the VOL...)


def confirm(verdict: Verdict, policy: Policy, source: Source, turned: bool = False,
            sample: Sample | None = None, aspect: float | None = None) -> Verdict:
    """The verdict of a video that passed its header checks, with the size its first
    keyframe decodes to (``turned``: the container rotates it a quarter; ``aspect``: the
    container's pixel aspect, which wins as in ffprobe), or ``corrupt`` when no frame decodes.
    Runs in the parent; the decode runs in a sandbox worker."""
    if not verdict.ok or policy.video.decode != "frame":
        return verdict
    if sample is not None:
        outcome = sandboxed(verdict, policy, decode_sample, source, sample)
    else:
        outcome = sandboxed(verdict, policy, first_picture, source)
    if isinstance(outcome, Verdict):  # the worker overran its limits: already marked
        return outcome
    if isinstance(outcome, Picture) and aspect:
        outcome = replace(outcome, sar=aspect)
    apply(verdict, outcome, turned)
    return verdict


def decode_sample(source: Source, sample: Sample) -> Picture | str:
    """Runs in a sandbox worker: ``sample`` read from the file and decoded by a decoder
    alone; its size and pixel aspect, or a sentence saying why it does not decode."""
    import av

    if sample.size > MAX_BYTES:
        return "第一帧数据过大，文件可能已损坏"
    with source.open() as stream:
        stream.seek(sample.offset)
        data = stream.read(sample.size)
    if len(data) < sample.size:
        return "文件不完整，第一帧数据缺失"
    av.logging.set_level(av.logging.ERROR)
    with av.logging.Capture() as logs:
        try:
            codec = av.CodecContext.create(sample.codec, "r")
            codec.extradata = sample.extradata or None
            codec.thread_count = 1
            # Deblocking finds no error and is a third of an H.264 picture's decode.
            codec.options = {"skip_loop_filter": "all"}
            frames = [*codec.decode(av.Packet(data)), *codec.decode(None)]
        except (av.FFmpegError, ValueError):
            return UNDECODABLE
    if logs or not frames or frames[0].is_corrupt:
        return UNDECODABLE
    sar = codec.sample_aspect_ratio
    return Picture(frames[0].width, frames[0].height, float(sar) if sar else 1.0)


def apply(verdict: Verdict, outcome: Picture | str, turned: bool) -> Verdict:
    """A decode's outcome on the verdict: its size, or what is wrong."""
    if isinstance(outcome, str):
        return corrupt(verdict, outcome)
    verdict.width, verdict.height = outcome.displayed(turned)
    return verdict


def first_picture(source: Source) -> Picture | str:
    """Runs in a sandbox worker: the first keyframe's size and pixel aspect, or a sentence
    saying why no frame decodes."""
    import av  # the worker's own import: the parent never loads FFmpeg

    av.logging.set_level(av.logging.ERROR)
    with av.logging.Capture() as logs:
        try:
            if source.member is None:
                return _decode(av, source.path, logs)
            with source.open() as stream:
                return _decode(av, stream, logs)
        except (av.FFmpegError, ValueError):  # ValueError: PyAV's own, on odd values
            return "文件无法被播放器打开（解码器报错）"


def _decode(av: Any, target: Any, logs: list[tuple[int, str, str]]) -> Picture | str:
    # Tags in a legacy code page are no reason to refuse a file: they are not used here.
    with av.open(target, options=OPEN_OPTIONS, metadata_errors="replace") as container:
        video = next((s for s in container.streams if s.type == "video"), None)
        if video is None:
            return "没有找到视频画面，文件可能损坏或缺少索引"
        if logs:
            return "文件结构有误，播放器无法正常打开"
        codec = video.codec_context
        if codec is None:
            return NO_DECODER
        codec.thread_count = 1  # one picture: threads would only cost memory and start-up
        return _first_keyframe(container, video, codec, logs)


def _first_keyframe(container: Any, video: Any, codec: Any,
                    logs: list[tuple[int, str, str]]) -> Picture | str:
    packet = first_keyframe_packet(container, video, logs)
    if isinstance(packet, str):
        return packet
    return decode_keyframe(video, codec, packet, logs)


def first_keyframe_packet(container: Any, video: Any,
                          logs: list[tuple[int, str, str]]) -> Any:
    """The first keyframe packet of ``video``, read without seeking and within
    ``MAX_PACKETS`` / ``MAX_BYTES``, or a sentence saying why there is none."""
    count = read = 0
    for packet in container.demux(video):
        count, read = count + 1, read + packet.size
        if count > MAX_PACKETS or read > MAX_BYTES:
            return "视频开头没有可解码的关键帧"
        if packet.size == 0 or not packet.is_keyframe:
            continue
        if packet.is_corrupt:  # the demuxer lost part of it (a TS packet missing or out of
            return DAMAGED_PACKET  # order): ``ffmpeg -xerror`` stops there, players show garbage
        return packet
    if logs:
        return "文件结构有误，播放器无法读取视频数据"
    return "文件中没有可解码的视频帧"


def decode_keyframe(video: Any, codec: Any, packet: Any,
                    logs: list[tuple[int, str, str]]) -> Picture | str:
    """The size and pixel aspect ``packet`` decodes to alone (the decoder flushed after it,
    so no later frame is decoded), or why it does not decode."""
    before = len(logs)
    frames = [*codec.decode(packet), *codec.decode(None)]
    if len(logs) > before or not frames or frames[0].is_corrupt:
        return UNDECODABLE
    frame = frames[0]
    # The container's aspect (MP4 ``pasp``) first, as ffprobe and players take it.
    sar = video.sample_aspect_ratio or codec.sample_aspect_ratio
    return Picture(frame.width, frame.height, float(sar) if sar else 1.0)
