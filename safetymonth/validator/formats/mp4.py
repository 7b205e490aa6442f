"""MP4, MOV and 3GP, from the box headers alone.

An MP4's ``moov`` box grows with the video's length (a table entry per frame), and MediaInfo
parses all of it: 25 ms for a 1 GB file against 3 ms for 10 MB. The size we need lives in three
small boxes (``tkhd``, ``stsd`` and its ``pasp``), so this walker reads box headers and seeks
over everything else, at the same cost for any length.

- MP4 vs MOV: the ``ftyp`` major brand ``qt  `` (or no ``ftyp`` at all, as old QuickTime
  writes, in a file whose boxes hold together) is MOV; ``3g..`` is 3GP; anything else is MP4.
- Truncation: an ``mdat`` or ``moov`` that runs past the end of the file, or no ``moov``.
- Rotation: the track header's display matrix; anamorphic frames: the ``pasp`` box.
- Structure, checked before a file is ``ok`` (each is what makes players refuse it): every box
  fits its parent; the entries of every ``stsd`` and ``dref`` (``minf``'s data references) fit
  their box, each at least a header long, and a ``dref`` has one; ``mvhd``, ``tkhd`` and
  ``mdhd`` have a known version; the video track has a
  sample description, sample sizes and chunk offsets with at least one sample each (unless the
  movie is fragmented: then its samples are in the ``moof`` boxes); its ``tkhd`` size and its
  sample entry agree, and no side is over 16384.
- Sample tables, for every track (each is what makes ffmpeg refuse the file): entry counts
  that fit their box (``stts``, ``stsc``, ``stsz``, ``stco``...), a ``stsc`` that names no chunk
  past the ``stco``, chunk offsets inside the file, an ``mdhd`` time scale above 0, a sample
  description for every track that has samples; in a fragmented file, a ``tfhd`` first in
  every ``traf`` and ``trun`` counts that fit their box. Besides the counts, only the last
  ``stsc`` entry and the chunk offsets (all, or the first and last ``MAX_OFFSETS_CHECKED``)
  are read.
- The picture size is the codec's (the ``avcC``/``hvcC`` SPS, the ``esds`` VOL), not the
  container's (see ``picture``); then, with ``policy.video.decode: frame``, the first keyframe
  is decoded in the sandbox (``frame``).
"""

from __future__ import annotations

import math
import struct
from dataclasses import replace
from typing import BinaryIO

from safetymonth.config import Policy
from safetymonth.validator.formats import codecs, frame
from safetymonth.validator.formats.base import NO_VIDEO, corrupt, new
from safetymonth.validator.formats.mp4box import Movie, Track, box_name, boxes
from safetymonth.validator.formats.mp4tables import (
    SAMPLE_TABLES,
    TABLE_ENTRY,
    check_entries,
    check_fragment,
    read_entries,
    read_table,
    read_trex,
    tables_problem,
)
from safetymonth.validator.formats.picture import Picture
from safetymonth.validator.sandbox import Source
from safetymonth.validator.verdict import Kind, Verdict

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"dinf", b"stbl"}
MAX_BOX_READ = 64 * 1024  # tkhd, hdlr and stsd are tiny; never read a big box whole
MAX_DEPTH = 16  # containers nested deeper than this are not looked into
FULL_BOX_VERSIONS = {b"mvhd": {0, 1}, b"tkhd": {0, 1}, b"mdhd": {0, 1}}
MAX_SIDE = 16384  # larger than any camera writes (8K is 7680): a corrupt header
MAX_SIZE_FACTOR = 4  # tkhd against the sample entry: anamorphic, yes; a thousandfold, no
CODEC_CONFIGS = {b"avcC", b"hvcC", b"esds"}
# Video sample entries FFmpeg has a decoder for (its mov tags), as cameras, phones and editors
# write them; the families of professional variants by their first two letters.
KNOWN_ENTRIES = {"avc1", "avc2", "avc3", "avc4", "hvc1", "hev1", "dvh1", "dvhe", "dva1", "dvav",
                 "mp4v", "jpeg", "mjpa", "mjpb", "av01", "vp08", "vp09", "s263", "h263",
                 "mp1v", "mp2v", "m1v ", "m2v1", "icod", "2vuy", "yuv2", "v210", "raw ",
                 "png ", "mx3n", "mx5n", "mx3p", "mx5p", "rle ", "smc ", "rpza", "cvid",
                 "svq1", "svq3", "8BPS", "tiff", "mpeg", "AVdn", "AVdh", "AV1x", "AVUI"}
KNOWN_FAMILIES = ("ap", "xd", "hd", "dv", "ai")  # ProRes, XDCAM, HDV, DV, AVC-Intra
# Sample entries whose first sample a decoder takes alone (FFmpeg's decoder names).
DECODERS = {"avc1": "h264", "avc3": "h264", "hvc1": "hevc", "hev1": "hevc", "mp4v": "mpeg4",
            "jpeg": "mjpeg", "mjpa": "mjpeg"}


def probe(stream: BinaryIO, size: int, policy: Policy, source: Source) -> Verdict | None:
    """The verdict, or None when no video track was found (the caller asks MediaInfo)."""
    movie = read_movie(stream, size)
    verdict = new(Kind.VIDEO, _format(movie))
    video = next((t for t in movie.tracks if t.handler == b"vide"), None)
    if movie.truncated:
        if video:
            _fill(verdict, video)
        return corrupt(verdict, "文件不完整，可能在传输中被截断")
    if movie.problem:
        return corrupt(verdict, movie.problem)
    if not movie.has_moov:
        return corrupt(verdict, "缺少索引（moov），文件可能未录制完成或被截断")
    if video is None and any(track.handler for track in movie.tracks):
        # Whole tracks, none of them video (a sound recording): MediaInfo has nothing to
        # add, and hostile files of this shape made it take gigabytes.
        return corrupt(verdict, NO_VIDEO)
    if video is None or not _fill(verdict, video):
        return None
    problem = _video_problem(movie, video) or tables_problem(movie, size)
    if problem:
        return corrupt(verdict, problem)
    turned = video.rotation in (90, 270)
    try:
        picture = _codec_picture(video)
    except codecs.Short:
        return corrupt(verdict, "视频编码参数无效（SPS），播放器无法解码")
    if picture is not None:
        if not picture.plausible():
            return corrupt(verdict, "视频编码参数中的尺寸不合理")
        verdict.width, verdict.height = picture.displayed(turned)
    return frame.confirm(verdict, policy, source, turned, _first_sample(movie, video),
                         video.pixel_aspect)


def _first_sample(movie: Movie, track: Track) -> frame.Sample | None:
    """The first sample, for a decoder alone, when it is a keyframe of a codec we map; None
    sends the file to FFmpeg's demuxer."""
    name = DECODERS.get(track.codec)
    if movie.fragmented or name is None or not track.first_size or track.first_sync != 1:
        return None
    extradata = track.config[1] if track.config else b""
    if track.config and track.config[0] == b"esds":
        extradata = codecs.decoder_specific_info(extradata) or b""
    return frame.Sample(name, track.first_offset, track.first_size, extradata)


def _codec_picture(track: Track) -> Picture | None:
    """The size the codec's own header declares, with ``pasp`` (when present) as the pixel
    aspect, as ffprobe takes it; None for a codec whose header we do not parse."""
    if track.config is None:
        return None
    picture = codecs.from_config(*track.config)
    if picture is not None and track.pixel_aspect:
        picture = replace(picture, sar=track.pixel_aspect)
    return picture


def _video_problem(movie: Movie, track: Track) -> str | None:
    """What makes the video track unplayable, or None."""
    if not track.descriptions:
        return "视频轨道缺少编码描述（stsd）"
    if track.codec and not (track.codec in KNOWN_ENTRIES
                            or track.codec.startswith(KNOWN_FAMILIES)):
        return frame.NO_DECODER
    if not movie.fragmented and not (track.samples and track.chunks):
        return "视频轨道没有帧（索引表为空）"
    if movie.fragmented and not (track.samples or movie.fragments):
        return "视频轨道没有帧"
    sides = (track.width, track.height, *track.coded)
    if any(side > MAX_SIDE for side in sides):
        return "文件头中的视频尺寸不合理"
    if not _sizes_agree(track):
        return "文件头中的视频尺寸前后矛盾"
    return None


def _sizes_agree(track: Track) -> bool:
    """The track header's size against the sample entry's (widened by ``pasp``), side by
    side or a quarter turn apart, within a factor that anamorphic video never reaches."""
    coded_width, coded_height = track.coded
    if not (track.width and track.height and coded_width and coded_height):
        return True  # one of them unset: nothing to compare
    shown = (coded_width * (track.pixel_aspect or 1), coded_height)

    def near(a: float, b: float) -> bool:
        return 1 / MAX_SIZE_FACTOR <= a / b <= MAX_SIZE_FACTOR

    header = (track.width, track.height)
    return any(near(header[0], w) and near(header[1], h) for w, h in (shown, shown[::-1]))


def _format(movie: Movie) -> str | None:
    """The format the ``ftyp`` brand names. With no ``ftyp`` the file is QuickTime (MOV), as
    old cameras write it, only when its boxes hold together, as ffmpeg and MediaInfo then read
    it; a broken one (an ``ftyp`` mangled into ``moov``, say) is no format we know, and is not
    told to convert "its MOV" to MP4."""
    if movie.brand is None:
        whole = movie.has_moov and not (movie.truncated or movie.problem)
        return "MOV" if whole else None
    if movie.brand == b"qt  ":
        return "MOV"
    if movie.brand.startswith(b"3g"):
        return "3GP"
    return "MP4"


def read_movie(stream: BinaryIO, size: int) -> Movie:
    movie = Movie()
    for kind, start, end, header in boxes(stream, 0, size, movie):
        if end > size:
            movie.truncated = True
        if kind == b"moof":
            movie.fragments += 1
            if end <= size:
                check_fragment(stream, start + header, end, movie)
        if kind == b"ftyp":
            stream.seek(start + header)
            movie.brand = stream.read(4)
        elif kind == b"moov" and end <= size:
            movie.has_moov = True
            _walk(stream, start + header, end, movie, None)
    return movie


def _walk(stream: BinaryIO, start: int, end: int, movie: Movie, track: Track | None,
          depth: int = 0) -> None:
    if depth > MAX_DEPTH:  # real files nest about six deep; a hostile one, thousands
        return
    for kind, box_start, box_end, header in boxes(stream, start, end, movie):
        body = box_start + header
        if box_end > end:
            movie.fail(f"{box_name(kind)}盒子超出其所属范围")
            return
        if kind in FULL_BOX_VERSIONS:
            stream.seek(body)
            version = stream.read(1)
            if not version or version[0] not in FULL_BOX_VERSIONS[kind]:
                movie.fail(f"{box_name(kind)}盒子版本未知")
                return
        if kind == b"mvex":
            movie.fragmented = True
            read_trex(stream, body, box_end, movie)
        if kind == b"trak":
            movie.tracks.append(Track())
            _walk(stream, body, box_end, movie, movie.tracks[-1], depth + 1)
        elif kind in CONTAINERS:
            _walk(stream, body, box_end, movie, track, depth + 1)
        elif track is not None and kind in _READERS:
            stream.seek(body)
            _READERS[kind](stream.read(min(box_end - body, MAX_BOX_READ)), track)
        elif track is not None and kind in SAMPLE_TABLES:
            read_table(stream, kind, body, box_end, movie, track)
        if track is not None and kind in TABLE_ENTRY:
            read_entries(stream, kind, body, box_end, movie, track)
        if track is not None and kind == b"stsd":
            _check_descriptions(box_end - body, movie, track)
        if track is not None and kind in (b"stsd", b"dref"):
            check_entries(stream, kind, body, box_end, movie)


def _check_descriptions(length: int, movie: Movie, track: Track) -> None:
    """``stsd``: an entry count that its box can hold (each entry is at least 8 bytes)."""
    if track.descriptions * 8 > length - 8:
        movie.fail("stsd的条目数超出其盒子")


def _read_mdhd(data: bytes, track: Track) -> None:
    at = 12 if data[:1] == b"\x00" else 20  # after version, flags and two dates
    if len(data) >= at + 4:
        track.timescale = struct.unpack(">I", data[at:at + 4])[0]


def _read_tkhd(data: bytes, track: Track) -> None:
    matrix_at = 4 + (20 if data[:1] == b"\x00" else 32) + 16
    if len(data) < matrix_at + 44:
        return
    id_at = 12 if data[:1] == b"\x00" else 20  # after version, flags and two dates
    track.track_id = struct.unpack(">I", data[id_at:id_at + 4])[0]
    a, b = struct.unpack(">ii", data[matrix_at:matrix_at + 8])
    track.rotation = round(math.degrees(math.atan2(b, a))) % 360
    width, height = struct.unpack(">II", data[matrix_at + 36:matrix_at + 44])
    track.width, track.height = width / 65536, height / 65536


def _read_hdlr(data: bytes, track: Track) -> None:
    # QuickTime has a second hdlr, the data handler ("alis") in minf: the first one counts.
    if not track.handler:
        track.handler = data[8:12]


def _read_stsd(data: bytes, track: Track) -> None:
    """The first sample entry: its stored width and height, and a ``pasp`` child if any."""
    if len(data) >= 8:
        track.descriptions = struct.unpack(">I", data[4:8])[0]
    if len(data) < 8 + 86:
        return
    entry_size = struct.unpack(">I", data[8:12])[0]
    entry = data[8:8 + entry_size]
    if len(entry) < 36:
        return  # shorter than a visual sample entry: no size here
    track.codec = entry[4:8].decode("latin-1")
    track.coded = struct.unpack(">HH", entry[32:36])
    position = 86  # the visual sample entry's fixed part; child boxes follow
    while position + 8 <= len(entry):
        length, kind = struct.unpack(">I4s", entry[position:position + 8])
        if kind == b"pasp" and length >= 16 and position + 16 <= len(entry):
            h_spacing, v_spacing = struct.unpack(">II", entry[position + 8:position + 16])
            if h_spacing and v_spacing:
                track.pixel_aspect = h_spacing / v_spacing
        elif kind in CODEC_CONFIGS and track.config is None:
            track.config = (kind, entry[position + 8:position + length])
        if length < 8:
            break
        position += length


_READERS = {b"tkhd": _read_tkhd, b"hdlr": _read_hdlr, b"stsd": _read_stsd, b"mdhd": _read_mdhd}


def _fill(verdict: Verdict, track: Track) -> bool:
    """Displayed size: stored size times the pixel aspect (else the track's presentation
    size), with width and height traded for a quarter turn."""
    coded_width, coded_height = track.coded
    if coded_width and coded_height and track.pixel_aspect:
        width, height = round(coded_width * track.pixel_aspect), coded_height
    elif track.width and track.height:
        width, height = round(track.width), round(track.height)
    else:
        width, height = coded_width, coded_height
    if not width or not height:
        return False
    if track.rotation in (90, 270):
        width, height = height, width
    verdict.width, verdict.height = width, height
    return True
