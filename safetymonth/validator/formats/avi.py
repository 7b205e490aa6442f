"""AVI, from the RIFF header list and the top-level chunk headers.

A long AVI carries an index (``idx1``, and OpenDML ``ix##`` chunks spread through the file)
whose size grows with its length, and MediaInfo reads them: 76 ms for 1 GB against 13 ms for
10 MB. The frame size sits in the first few kilobytes (``strf``, with ``vprp`` for the display
aspect), so only the header list is read. Truncation: a top-level RIFF chunk (one per GB in
OpenDML files) that runs past the end of the file.

Structure, checked before a file is ``ok``: every chunk of ``hdrl`` fits its list and each
list fits its parent; the video stream list has a ``strh`` and a ``strf`` long enough for a
bitmap header, with a plausible size (no side over 16384); the ``movi`` list is there, and an
``idx1`` index, when present, holds at least one whole entry. Only chunk headers are read
outside ``hdrl``, so the cost is the same for any length.

The codec: ``strf``'s compression FourCC must name a video codec a decoder exists for (ffmpeg
refuses the rest: "Decoder (codec none) not found"), and the picture size is the one the first
frame's own header declares (H.264 SPS, MPEG-4 VOL, MJPEG SOF), not ``strf``'s, which no
decoder reads; with ``policy.video.decode: frame`` that frame is decoded too (``frame``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from safetymonth.config import Policy
from safetymonth.validator.formats import codecs, frame
from safetymonth.validator.formats.base import corrupt, new
from safetymonth.validator.formats.picture import Picture
from safetymonth.validator.sandbox import Source
from safetymonth.validator.verdict import Kind, Verdict

MAX_HEADER_LIST = 1024 * 1024
BITMAP_HEADER = 40  # BITMAPINFOHEADER, the shortest video strf
INDEX_ENTRY = 16
MAX_SIDE = 16384
MAX_TOP_LEVEL = 64  # chunks looked at in one RIFF list: movi, idx1, JUNK, INFO, ...
MAX_RIFF_CHUNKS = 1024  # OpenDML writes one per gigabyte; beyond this, trailing data
MAX_MOVIE_CHUNKS = 64  # chunks of movi looked at for the first video frame (audio before it)
MAX_FRAME_READ = 256 * 1024  # of the first frame: its headers are in its first bytes
# Compression FourCCs (upper-cased) that FFmpeg has a video decoder for, as cameras, phones,
# screen recorders and old editors write AVI, by the codec whose header we read.
FOURCCS = {
    "H264": {"H264", "X264", "AVC1", "DAVC", "VSSH", "AVC ", "Q264"},
    "MPEG4": {"XVID", "DIVX", "DX50", "FMP4", "MP4V", "M4S2", "3IV2", "DX60", "SMP4",
              "UMP4", "RMP4", "MP4S", "BLZ0", "DIV1", "FVFW", "XVIX", "WV1F", "SEDG", "GEOV"},
    "MJPEG": {"MJPG", "AVRN", "DMB1", "JPGL", "LJPG", "MJLS", "JPEG", "IJPG", "ACDV"},
    "MPEG2": {"MPG2", "MPEG", "MPG1", "PIM1", "PIM2", "VCR2", "MMES", "MPGV", "HDV1", "HDV2",
              "HDV3", "HDV5", "HDV6", "HDV7", "HDV8", "XD54", "XD55", "XD5A", "XD5B", "XD5C"},
    "": {"HEVC", "HEV1", "H265", "X265", "DVSD", "DVHD", "DVSL", "DV25", "DV50", "CDVC",
         "DVH1", "DVHP", "WMV1", "WMV2", "WMV3", "WVC1", "WMVA", "MP41", "MP42", "MP43",
         "DIV3", "DIV4", "DIV5", "DIV6", "AP41", "COL1", "MSVC", "CRAM", "WHAM", "CVID",
         "IV31", "IV32", "IV41", "IV50", "VP30", "VP31", "VP50", "VP60", "VP61", "VP62",
         "VP6F", "VP70", "VP80", "VP90", "AV01", "HFYU", "FFVH", "FFV1", "MAGY", "UTVD",
         "ULRG", "ULRA", "ULY0", "ULY2", "ULY4", "ULH0", "ULH2", "ULH4", "I420", "IYUV",
         "YV12", "YUY2", "UYVY", "YUYV", "Y800", "Y8  ", "NV12", "NV21", "V210", "V410",
         "R210", "DXSD", "DXSB", "TSCC", "TSC2", "ZMBV", "CSCD", "FPS1", "LAGS", "CLLC",
         "DRAC", "PNG ", "MPNG", "CFHD", "AVDN", "AVDH", "SNOW", "FLV1", "H263",
         "U263", "I263", "S263", "M263", "L263", "VX1K", "ZLIB", "MSZH", "QPEG", "RLE ",
         "MRLE", "WRLE", "ASV1", "ASV2", "CYUV", "SP5X", "SP54", "SP55", "SP56", "SP57",
         "SP58", "MVI1", "MVI2", "8BPS", "AASC", "CPLA", "G2M2", "G2M3", "G2M4", "HQX ",
         "HQ  ", "APCN", "APCH", "APCS", "APCO", "AP4H", "ICOD", "SHQ0", "SHQ2", "SHQ4",
         "SHQ7", "SHQ9", "MTS2", "DUCK", "TM20", "TRUE", "CLJR", "AURA", "AUR2", "VIXL",
         "RV10", "RV20", "RV30", "RV40", "SVQ1", "SVQ3", "CVJP", "QTRL", "QRLE", "SMC ",
         "AZPR", "RPZA", "M101", "M102", "YUV2", "2VUY", "XD5D", "XD5E", "XD5F",
         "MSRL", "VCR1", "PDVC", "SPDV"},
}
# FFmpeg's decoder for each codec family whose first frame a decoder takes alone.
DECODERS = {"H264": "h264", "MPEG4": "mpeg4", "MJPEG": "mjpeg", "MPEG2": "mpeg2video"}
# biCompression values below 32 are the uncompressed and RLE bitmaps (BI_RGB, BI_RLE8, ...).
BITMAP_CODES = range(0, 32)


class Broken(Exception):
    """A structural error; the message is the detail a clerk reads."""


@dataclass
class Stream:
    is_video: bool = False
    size: tuple[int, int] | None = None
    aspect: float | None = None
    has_format: bool = False
    compression: bytes = b""  # strf biCompression
    extradata: bytes = b""  # what follows the bitmap header in strf: the decoder's setup
    number: int = 0  # its place among the streams: the "00" of its "00dc" chunks


def codec_of(compression: bytes) -> str | None:
    """The codec family a compression FourCC names ("" for one we decode but do not parse),
    or None when no decoder knows it."""
    if struct.unpack("<I", compression)[0] in BITMAP_CODES:
        return ""
    tag = compression.decode("latin-1").upper()
    return next((codec for codec, tags in FOURCCS.items() if tag in tags), None)


def probe(stream: BinaryIO, size: int, policy: Policy, source: Source) -> Verdict | None:
    """The verdict, or None when no video stream header was found (the caller asks
    MediaInfo)."""
    verdict = new(Kind.VIDEO, "AVI")
    try:
        found = _video_stream(stream, size)
    except Broken as error:
        found, problem = None, str(error)
    else:
        problem = None
    if found and found.size:
        verdict.width, verdict.height = found.size
    if _riff_runs_past_end(stream, size):
        return corrupt(verdict, "文件不完整，可能在传输中被截断")
    if problem:
        return corrupt(verdict, problem)
    if not found:
        return None
    codec = codec_of(found.compression)
    if codec is None:
        return corrupt(verdict, frame.NO_DECODER)
    movie = _movie_list(stream, size)
    if isinstance(movie, str):
        return corrupt(verdict, movie)
    first = _first_frame(stream, movie, found.number)
    try:
        picture = _frame_picture(stream, first, codec)
    except codecs.Short:
        return corrupt(verdict, "第一帧的编码头无效，播放器无法解码")
    if picture is not None:
        if not picture.plausible():
            return corrupt(verdict, "视频编码参数中的尺寸不合理")
        verdict.width, verdict.height = picture.displayed()
    sample = None
    if first and codec in DECODERS:
        sample = frame.Sample(DECODERS[codec], first[0], first[1], found.extradata)
    return frame.confirm(verdict, policy, source, sample=sample)


def _frame_picture(stream: BinaryIO, first: tuple[int, int] | None,
                   codec: str) -> Picture | None:
    """The picture the first video frame's own header declares, or None (no frame found in
    the first chunks, or a codec whose header we do not read)."""
    if not first or not codec:
        return None
    stream.seek(first[0])
    return codecs.from_frame(codec, stream.read(min(first[1], MAX_FRAME_READ)))


def _first_frame(stream: BinaryIO, movie: tuple[int, int],
                 number: int) -> tuple[int, int] | None:
    """(offset, length) of the first video frame's data in the ``movi`` list, or None when
    none is among its first chunks."""
    wanted = (b"%02d" % number, (b"dc", b"db"))
    position, end = movie
    for _ in range(MAX_MOVIE_CHUNKS):
        if position + 8 > end:
            return None
        stream.seek(position)
        kind, length = struct.unpack("<4sI", stream.read(8))
        if kind == b"LIST":  # a "rec " list groups a frame with its sound: look inside
            position += 12
            continue
        if kind[:2] == wanted[0] and kind[2:] in wanted[1] and length:
            return (position + 8, length) if position + 8 + length <= end else None
        position += 8 + length + (length & 1)
    return None


def _chunks(data: bytes, position: int, end: int) -> Iterator[tuple[bytes, bytes, int, int]]:
    """(id, list type or b"", body offset, body length) of each chunk in ``data`` between
    ``position`` and ``end``; a chunk that runs past ``end`` is a structural error."""
    while position + 8 <= end:
        kind, length = struct.unpack("<4sI", data[position:position + 8])
        if position + 8 + length > end:
            raise Broken(f"{_name(kind)}块超出其所属范围")
        if kind == b"LIST" and length < 4:
            raise Broken("LIST块大小无效")
        list_type = data[position + 8:position + 12] if kind == b"LIST" else b""
        yield kind, list_type, position + 8, length
        position += 8 + length + (length & 1)


def _name(kind: bytes) -> str:
    """A chunk id for a message to the unit: its four letters, or "?" for bytes that are not
    (the fuzz campaign found NUL and control bytes reaching the sentence)."""
    text = kind.decode("latin-1").strip()
    return text if text and all(" " < char < "\x7f" for char in text) else "?"


def _video_stream(stream: BinaryIO, size: int) -> Stream | None:
    """The first video stream's header, from the ``hdrl`` list that follows the RIFF
    header."""
    stream.seek(12)
    header = stream.read(12)
    if len(header) < 12 or header[:4] != b"LIST" or header[8:12] != b"hdrl":
        return None
    declared = struct.unpack("<I", header[4:8])[0]
    if 12 + 8 + declared > size:
        raise Broken("hdrl块超出文件范围")
    length = min(declared, MAX_HEADER_LIST) - 4
    if length <= 0:  # read(-n) would read the whole file
        return None
    data = stream.read(length)
    end = len(data) if declared <= MAX_HEADER_LIST else _last_whole_chunk(data)
    number = 0
    for kind, list_type, body, chunk_size in _chunks(data, 0, end):
        if kind == b"LIST" and list_type == b"strl":
            found = _stream_size(data, body + 4, body + chunk_size)
            if found:
                found.number = number
                return found
            number += 1
    return None


def _last_whole_chunk(data: bytes) -> int:
    """Where the chunks of a header list longer than we read stop being whole."""
    position = 0
    while position + 8 <= len(data):
        length = struct.unpack("<I", data[position + 4:position + 8])[0]
        if position + 8 + length > len(data):
            break
        position += 8 + length + (length & 1)
    return min(position, len(data))


def _stream_size(data: bytes, start: int, end: int) -> Stream | None:
    """Width and height of a video stream list (strh ``vids``), widened by ``vprp``."""
    found = Stream()
    for kind, _, body, length in _chunks(data, start, end):
        if kind == b"strh":
            found.is_video = data[body:body + 4] == b"vids"
        elif kind == b"strf":
            found.has_format = True
            if length >= BITMAP_HEADER:
                width, height = struct.unpack("<ii", data[body + 4:body + 12])
                found.size = (abs(width), abs(height))
                found.compression = data[body + 16:body + 20]
                found.extradata = data[body + BITMAP_HEADER:body + length]
        elif kind == b"vprp" and length >= 24:
            x, y = struct.unpack("<HH", data[body + 20:body + 24])[::-1]
            found.aspect = x / y if x and y else None
    if not found.is_video:
        return None
    if not found.size:
        raise Broken("视频流缺少格式描述（strf）")
    width, height = found.size
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise Broken("文件头中的视频尺寸不合理")
    if found.aspect and abs(found.aspect - width / height) > 0.01:
        width = round(height * found.aspect)
    found.size = (width, height)
    return found


def _movie_list(stream: BinaryIO, size: int) -> tuple[int, int] | str:
    """(start, end) of the ``movi`` list's chunks, or what is wrong: the first RIFF list must
    hold a ``movi`` list, and an ``idx1`` that fits."""
    stream.seek(4)
    riff_end = min(size, 8 + struct.unpack("<I", stream.read(4))[0])
    position, movie = 12, None
    for _ in range(MAX_TOP_LEVEL):
        if position + 8 > riff_end:
            break
        stream.seek(position)
        kind, length = struct.unpack("<4sI", stream.read(8))
        if position + 8 + length > riff_end:
            return f"{_name(kind)}块超出文件范围"
        if kind == b"LIST" and stream.read(4) == b"movi":
            movie = movie or (position + 12, position + 8 + length)
        elif kind == b"idx1" and (length < INDEX_ENTRY or length % INDEX_ENTRY):
            return "索引（idx1）为空或已损坏"
        position += 8 + length + (length & 1)
    return movie or "缺少视频数据（movi）"


def _riff_runs_past_end(stream: BinaryIO, size: int) -> bool:
    position = 0
    for _ in range(MAX_RIFF_CHUNKS):
        if position + 8 > size:
            break
        stream.seek(position)
        kind, length = struct.unpack("<4sI", stream.read(8))
        if kind != b"RIFF":
            return False  # trailing bytes after the last RIFF chunk are harmless
        position += 8 + length + (length & 1)
    return position > size
