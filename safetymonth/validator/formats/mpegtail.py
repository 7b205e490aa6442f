"""Whether an MPEG program or transport stream ends whole, judged from its last bytes.

A file cut in transfer plays up to the cut, and then its last picture is missing slices:
``ffmpeg -v error`` reports a "corrupt decoded frame", and so the file is not ok. The first
keyframe says nothing about the end, and decoding the last picture means decoding its group
of pictures, so the last 64 KB are read instead and their packet structure judged:

- A program stream's packets carry their lengths: one that runs past the end of the file was
  cut. A cut that falls between two packets leaves video data right up to the end; a muxer
  ends a stream with the program end code, or pads the pack that holds the last picture's
  end (FFmpeg writes a padding packet), so video to the last byte is a cut as well.
- A transport stream is a run of fixed-size packets (188 bytes; 192 in BDAV, a 4-byte
  timestamp first): a length that is not a multiple was cut. A cut on a packet boundary is
  found by the last packet of the video: a PES packet ends with its last TS packet, which the
  muxer fills up with adaptation-field stuffing (the next PES starts in a packet of its own);
  a last video packet full of payload is the middle of a PES, so its picture was cut.

Tails that cannot be read this way (no pack header, no video packet in the last 64 KB) are
not judged here: the first keyframe's decode still is.
"""

from __future__ import annotations

from dataclasses import dataclass

TAIL_SIZE = 64 * 1024
START = b"\x00\x00\x01"
PACK = b"\x00\x00\x01\xba"
END_CODE = 0xB9
SYSTEM_CODES = range(0xBB, 0x100)  # the system header and the PES stream ids
VIDEO_IDS = range(0xE0, 0xF0)
MPEG2_PACK = 14  # bytes of an MPEG-2 pack header before its stuffing; MPEG-1's is 12
MPEG1_PACK = 12
SYNC = 0x47
TS_SIZE = 188


@dataclass(frozen=True)
class Layout:
    """How the stream is packed: a program stream (``unit`` 0), or transport packets of
    ``unit`` bytes with the 188-byte TS packet at ``offset`` in each."""

    name: str  # the campaign's format for a transport stream; "MPEG-PS" for a program stream
    unit: int = 0
    offset: int = 0


PROGRAM = Layout("MPEG-PS")
BDAV = Layout("MTS", 192, 4)  # AVCHD cameras' .mts/.m2ts
PLAIN_TS = Layout("TS", TS_SIZE, 0)


def layout(head: bytes) -> Layout:
    """The packing, from the first bytes (the sniffer has already told PS from TS)."""
    if head.startswith(PACK):
        return PROGRAM
    if len(head) > 2 * 192 + 4 and all(head[4 + 192 * n] == SYNC for n in range(3)):
        return BDAV
    return PLAIN_TS


def is_cut(tail: bytes, size: int, packing: Layout, video_pid: int | None) -> bool:
    """True when the stream whose last bytes are ``tail`` (of ``size`` in all) was cut."""
    if packing is PROGRAM:
        return _program_cut(tail)
    return _transport_cut(tail, size, packing, video_pid)


def _program_cut(tail: bytes) -> bool:
    position = tail.find(PACK)
    if position < 0:
        return False  # packs larger than the tail: not judged here
    last = 0
    while position < len(tail):
        step = _packet_length(tail, position)
        if step is None:  # not a system start code: resynchronise on the next pack
            position = tail.find(PACK, position + 1)
            if position < 0:
                return False
            continue
        if position + step > len(tail):
            return True  # the packet runs past the end of the file
        last, position = tail[position + 3], position + step
    return last in VIDEO_IDS


def _packet_length(data: bytes, position: int) -> int | None:
    """Bytes from ``position`` to the next packet (more than are left when the header itself
    is cut), or None when no system start code is there."""
    left = len(data) - position
    if data[position:position + 3] != START[:left]:
        return None
    if left < 5:
        return 4 if left == 4 and data[position + 3] == END_CODE else left + 1
    code = data[position + 3]
    if code == END_CODE:
        return 4
    if code == PACK[3]:
        if data[position + 4] >> 6 == 1:  # MPEG-2: the stuffing length ends the header
            return MPEG2_PACK + (data[position + 13] & 7) if left >= MPEG2_PACK else MPEG2_PACK
        return MPEG1_PACK if data[position + 4] >> 4 == 2 else None
    if code not in SYSTEM_CODES:
        return None
    if left < 6:
        return left + 1
    return 6 + int.from_bytes(data[position + 4:position + 6], "big")


def _transport_cut(tail: bytes, size: int, packing: Layout, video_pid: int | None) -> bool:
    if size % packing.unit:
        return True
    for end in range(len(tail), packing.unit - 1, -packing.unit):  # last packet first
        packet = tail[end - packing.unit + packing.offset:end - packing.unit + packing.offset
                      + TS_SIZE]
        if packet[0] != SYNC:
            return True  # the packets end out of step: not a whole stream
        if ((packet[1] & 0x1F) << 8 | packet[2]) != video_pid or not packet[3] & 0x10:
            continue  # another stream's, or no payload
        return not _stuffed(packet)
    return False


def _stuffed(packet: bytes) -> bool:
    """Whether the TS packet's adaptation field holds stuffing: the last packet of a PES."""
    if not packet[3] & 0x20:
        return False  # payload only: all 184 bytes of it
    length = packet[4]
    if length == 0:
        return True  # the one-byte field is itself stuffing
    flags, used = packet[5], 1
    used += 6 * bool(flags & 0x10) + 6 * bool(flags & 0x08) + bool(flags & 0x04)
    if flags & 0x02 and 5 + used < len(packet):  # transport private data: its own length
        used += 1 + packet[5 + used]
    if flags & 0x01 and 5 + used < len(packet):  # the adaptation field extension
        used += 1 + packet[5 + used]
    return length > used
