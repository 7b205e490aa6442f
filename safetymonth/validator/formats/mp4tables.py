"""MP4 sample tables and fragments: the counts and offsets whose errors make ffmpeg refuse a
file, read at a cost that does not grow with the video's length (``mp4`` calls these while
it walks the ``moov`` and ``moof`` boxes)."""

from __future__ import annotations

import struct
from array import array
from typing import BinaryIO

from safetymonth.validator.formats.mp4box import Movie, Track, box_name, boxes

SAMPLE_TABLES = {b"stsz", b"stz2", b"stco", b"co64"}  # sample sizes and chunk offsets
# Bytes per entry (after version, flags and count) of the tables whose count must fit the box.
TABLE_ENTRY = {b"stts": 8, b"ctts": 8, b"stss": 4, b"stsc": 12, b"stco": 4, b"co64": 8}
# Chunk offsets checked against the file's end: all of them up to this many, else this many
# at each end of the table (a cut file loses its last chunks). A 10 MB video has about 1,500
# chunks per track, a 1 GB one 200,000+, whose max() alone would take 12 ms.
MAX_OFFSETS_CHECKED = 1024
MAX_STSC_DROPPED = 16  # empty last stsc entries followed back, as FFmpeg drops them
TRUN_OPTIONAL = ((0x001, 4), (0x004, 4))  # data offset, first sample flags
TRUN_PER_SAMPLE = (0x100, 0x200, 0x400, 0x800)  # duration, size, flags, composition offset


def tables_problem(movie: Movie, size: int) -> str | None:
    """What in any track's sample tables makes ffmpeg refuse the file, or None."""
    for track in movie.tracks:
        has_samples = track.samples or track.chunks
        if has_samples and not track.descriptions:
            return "有轨道缺少编码描述（stsd），播放器无法打开"
        if track.timescale == 0:
            return "轨道时间刻度为0（mdhd），文件已损坏"
        if track.chunks and not (track.counts.get(b"stts") and track.counts.get(b"stsc")):
            return "轨道索引表不完整（缺少stts或stsc）"
        if track.last_first_chunk > track.chunks:
            return "索引表前后矛盾（stsc与stco不符）"
        if track.max_offset >= size:
            return "索引指向文件末尾之外，文件不完整或已损坏"
    return None


def read_table(stream: BinaryIO, kind: bytes, body: int, end: int, movie: Movie,
                track: Track) -> None:
    """The entry count of a sample size or chunk offset table, checked to fit its box."""
    stream.seek(body)
    head = stream.read(12)
    if len(head) < 12:
        movie.fail(f"{box_name(kind)}盒子不完整")
        return
    if kind in (b"stsz", b"stz2"):
        field_or_size, count = struct.unpack(">II", head[4:12])
        bits = field_or_size & 0xFF if kind == b"stz2" else (0 if field_or_size else 32)
        table = (count * bits + 7) // 8
        track.samples = count
        fixed = 12
        if kind == b"stsz":
            track.first_size = field_or_size or first_entry(stream, body + 12, end)
    else:
        count = struct.unpack(">I", head[4:8])[0]
        table = count * (8 if kind == b"co64" else 4)
        track.chunks = count
        fixed = 8
    if body + fixed + table > end:
        movie.fail(f"{box_name(kind)}表超出其盒子")


def read_entries(stream: BinaryIO, kind: bytes, body: int, end: int, movie: Movie,
                  track: Track) -> None:
    """A fixed-size table's entry count, checked to fit its box (ffmpeg allocates what the
    count says: 2^28 entries is gigabytes); the last ``stsc`` entry; the chunk offsets."""
    stream.seek(body)
    head = stream.read(8)
    if len(head) < 8:
        movie.fail(f"{box_name(kind)}盒子不完整")
        return
    count = struct.unpack(">I", head[4:8])[0]
    entry = TABLE_ENTRY[kind]
    if body + 8 + count * entry > end:
        movie.fail(f"{box_name(kind)}表的条目数超出其盒子")
        return
    track.counts[kind] = count
    if kind == b"stss" and count:
        track.first_sync = first_entry(stream, body + 8, end)
    if kind in (b"stco", b"co64") and count:
        stream.seek(body + 8)
        raw = stream.read(entry)
        track.first_offset = int.from_bytes(raw, "big") if len(raw) == entry else 0
    if kind == b"stsc" and count:
        track.last_first_chunk = _last_first_chunk(stream, body + 8, count)
    elif kind in (b"stco", b"co64") and count:
        track.max_offset = max(track.max_offset, max_offset(stream, body + 8, count, entry))


def _last_first_chunk(stream: BinaryIO, table: int, count: int) -> int:
    """The first chunk of ``stsc``'s last entry as FFmpeg's demuxer repairs it before it
    compares it with the chunk count: an entry whose sample count is 0 is dropped, and the
    last one's first chunk raised to at least its position and past the entry before it (a
    last entry repeating the one before it becomes "one chunk past the table", which FFmpeg
    then refuses). Reads at most ``MAX_STSC_DROPPED`` + 2 entries."""
    def entry(index: int) -> tuple[int, int]:
        stream.seek(table + index * 12)
        first, samples = struct.unpack(">II", stream.read(8).rjust(8, b"\0"))
        return first, samples

    last = count - 1
    first, samples = entry(last)
    for _ in range(MAX_STSC_DROPPED):
        if samples or last == 0:
            break
        last -= 1
        first, samples = entry(last)
    first = max(first, last + 1)
    if last > 0:
        before = entry(last - 1)[0]
        if first <= before:
            first = before + 1
    return first


def first_entry(stream: BinaryIO, at: int, end: int) -> int:
    """The 32-bit entry at ``at``, 0 when it is not inside the box."""
    if at + 4 > end:
        return 0
    stream.seek(at)
    return struct.unpack(">I", stream.read(4).rjust(4, b"\0"))[0]


def max_offset(stream: BinaryIO, start: int, count: int, entry: int) -> int:
    """The largest chunk offset of the whole table, or of its first and last
    ``MAX_OFFSETS_CHECKED`` entries when it is longer: a cost that does not grow with length."""
    stream.seek(start)
    if count <= 2 * MAX_OFFSETS_CHECKED:
        raw = stream.read(count * entry)
    else:
        raw = stream.read(MAX_OFFSETS_CHECKED * entry)
        stream.seek(start + (count - MAX_OFFSETS_CHECKED) * entry)
        raw += stream.read(MAX_OFFSETS_CHECKED * entry)
    table = array("Q" if entry == 8 else "I", raw[:len(raw) - len(raw) % entry])
    if table.itemsize != entry:  # "I" is 4 bytes on every platform Python runs on
        return 0
    if array("H", [1]).tobytes() == b"\x01\x00":
        table.byteswap()  # the file is big-endian
    return max(table, default=0)


def check_fragment(stream: BinaryIO, start: int, end: int, movie: Movie) -> None:
    """A ``moof``: each ``traf`` starts with its ``tfhd``, each ``trun`` fits its box."""
    for kind, box_start, box_end, header in boxes(stream, start, end, movie):
        if kind != b"traf":
            continue
        if box_end > end:
            movie.fail("traf盒子超出其所属范围")
            return
        first = True
        for child, child_start, child_end, child_header in boxes(
                stream, box_start + header, box_end, movie):
            if first and not known_track(stream, child, child_start + child_header, movie):
                movie.fail("视频片段缺少轨道片段头（tfhd）或指向不存在的轨道")
                return
            first = False
            if child == b"trun" and not trun_fits(stream, child_start + child_header,
                                                   child_end):
                movie.fail("视频片段的帧表（trun）超出其盒子")
                return


def read_trex(stream: BinaryIO, start: int, end: int, movie: Movie) -> None:
    """The track ids the ``mvex`` has defaults (``trex``) for: ffmpeg reads no fragment of a
    track without one."""
    for kind, box_start, _, header in boxes(stream, start, end, movie):
        if kind == b"trex":
            stream.seek(box_start + header + 4)
            raw = stream.read(4)
            if len(raw) == 4:
                movie.extended.add(struct.unpack(">I", raw)[0])


def known_track(stream: BinaryIO, kind: bytes, body: int, movie: Movie) -> bool:
    """Whether a ``traf``'s first box is a ``tfhd`` naming a track of the ``moov`` that has
    fragment defaults (``trex``)."""
    if kind != b"tfhd":
        return False
    stream.seek(body + 4)
    raw = stream.read(4)
    if len(raw) < 4:
        return False
    track_id = struct.unpack(">I", raw)[0]
    return track_id in movie.extended and track_id in {t.track_id for t in movie.tracks}


def trun_fits(stream: BinaryIO, body: int, end: int) -> bool:
    stream.seek(body)
    head = stream.read(8)
    if len(head) < 8:
        return False
    flags, count = struct.unpack(">I", head[:4])[0] & 0xFFFFFF, struct.unpack(">I", head[4:])[0]
    fixed = 8 + sum(size for bit, size in TRUN_OPTIONAL if flags & bit)
    per_sample = 4 * sum(1 for bit in TRUN_PER_SAMPLE if flags & bit)
    return body + fixed + count * per_sample <= end


MAX_ENTRIES_CHECKED = 64  # sample entries and data references: real files have one or two
MIN_SAMPLE_ENTRY = 8  # FFmpeg refuses an stsd entry of 7 bytes or fewer ("invalid size")
MIN_DATA_ENTRY = 12  # ... and a dref entry under 12 bytes


def check_entries(stream: BinaryIO, kind: bytes, body: int, end: int, movie: Movie) -> None:
    """The entries of an ``stsd`` or a ``dref`` (a ``minf``'s data references), walked as
    FFmpeg's demuxer walks them: by their count and their own sizes, not by the box's. An
    entry that runs past its box makes FFmpeg read the next boxes as its body ("corrupted
    STSD atom", the ``minf`` overread), and one shorter than its header, or a ``dref`` with
    no entry at all, stops it with "error reading header"."""
    stream.seek(body + 4)
    raw = stream.read(4)
    count = struct.unpack(">I", raw)[0] if len(raw) == 4 else 0
    name = box_name(kind)
    if kind == b"dref" and count == 0:
        movie.fail("数据引用表（dref）为空")
        return
    smallest = MIN_DATA_ENTRY if kind == b"dref" else MIN_SAMPLE_ENTRY
    position = body + 8
    for _ in range(min(count, MAX_ENTRIES_CHECKED)):
        stream.seek(position)
        raw = stream.read(4)
        size = struct.unpack(">I", raw)[0] if len(raw) == 4 else 0
        if size < smallest:
            movie.fail(f"{name}的条目大小无效")
            return
        if position + size > end:
            movie.fail(f"{name}的条目超出其盒子")
            return
        position += size
