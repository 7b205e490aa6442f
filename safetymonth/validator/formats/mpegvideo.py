"""MPEG-2 (and MPEG-1) sequence headers and MPEG-4 Part 2 video object layers: the picture
size and aspect their decoders use (ISO/IEC 13818-2 6.2.2.1, 14496-2 6.2.3)."""

from __future__ import annotations

from safetymonth.validator.formats.bits import BitReader, Short
from safetymonth.validator.formats.picture import Picture, sar_from_dar

SEQUENCE_HEADER = b"\x00\x00\x01\xb3"
# MPEG-2 aspect_ratio_information: 1 square pixels, else the display aspect.
MPEG2_DAR = {2: 4 / 3, 3: 16 / 9, 4: 2.21}
VOL_CODES = range(0x20, 0x30)
VOL_PAR = {1: (1, 1), 2: (12, 11), 3: (10, 11), 4: (16, 11), 5: (40, 33)}
EXTENDED_PAR = 15
RECTANGULAR = 0
GRAYSCALE = 3


def sequence_header(data: bytes) -> Picture | None:
    """The picture of the first MPEG-2 sequence header in ``data``, or None when there is none."""
    found = data.find(SEQUENCE_HEADER)
    if found < 0 or found + 8 > len(data):
        return None
    head = data[found + 4:found + 8]
    width = (head[0] << 4) | (head[1] >> 4)
    height = ((head[1] & 0x0F) << 8) | head[2]
    aspect = head[3] >> 4
    if not width or not height or aspect == 0:
        raise Short("sequence header without a size or aspect")
    return Picture(width, height, sar_from_dar(width, height, MPEG2_DAR.get(aspect)))


def video_object_layer(data: bytes) -> Picture | None:
    """The picture of the first MPEG-4 Part 2 VOL header in ``data``, or None."""
    position = 0
    while True:
        found = data.find(b"\x00\x00\x01", position)
        if found < 0 or found + 4 > len(data):
            return None
        if data[found + 3] in VOL_CODES:
            return _parse_vol(data[found + 4:found + 4 + 64])
        position = found + 3


def _parse_vol(body: bytes) -> Picture:
    bits = BitReader(body)
    bits.skip(9)  # random_accessible_vol, video_object_type_indication
    verid = 1
    if bits.flag():
        verid = bits.u(4)
        bits.skip(3)
    par = bits.u(4)
    sar = 1.0
    if par == EXTENDED_PAR:
        width, height = bits.u(8), bits.u(8)
        sar = width / height if width and height else 1.0
    elif par in VOL_PAR:
        sar = VOL_PAR[par][0] / VOL_PAR[par][1]
    if bits.flag():  # vol_control_parameters
        bits.skip(3)
        if bits.flag():
            bits.skip(79)  # vbv parameters
    shape = bits.u(2)
    if shape == GRAYSCALE and verid != 1:
        bits.skip(4)
    bits.skip(1)
    resolution = bits.u(16)
    if not resolution:
        raise Short("VOL time resolution 0")
    bits.skip(1)
    if bits.flag():
        bits.skip(max(1, (resolution - 1).bit_length()))
    if shape != RECTANGULAR:
        raise Short("non-rectangular video object")
    bits.skip(1)
    width = bits.u(13)
    bits.skip(1)
    height = bits.u(13)
    return Picture(width, height, sar)
