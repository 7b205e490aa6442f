"""The H.264 sequence parameter set: picture size with its cropping, and the VUI's pixel
aspect (ITU-T H.264 7.3.2.1.1 and E.1.1). Only what comes before the aspect is parsed."""

from __future__ import annotations

from safetymonth.validator.formats.bits import BitReader, Short, unescape
from safetymonth.validator.formats.picture import Picture

NAL_SPS = 7
MAX_SPS = 1024  # a real SPS is 10-40 bytes; never parse a hostile megabyte
# Profiles whose SPS carries chroma format, bit depth and scaling matrices.
HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
SAR_TABLE = {1: (1, 1), 2: (12, 11), 3: (10, 11), 4: (16, 11), 5: (40, 33), 6: (24, 11),
             7: (20, 11), 8: (32, 11), 9: (80, 33), 10: (18, 11), 11: (15, 11), 12: (64, 33),
             13: (160, 99), 14: (4, 3), 15: (3, 2), 16: (2, 1)}
EXTENDED_SAR = 255


def parse_sps(nal: bytes) -> Picture:
    """The picture an SPS NAL unit (header byte included) describes; raises :class:`Short`
    on a header that ffmpeg's decoder would refuse."""
    if not nal or nal[0] & 0x1F != NAL_SPS:
        raise Short("not an SPS")
    bits = BitReader(unescape(nal[1:MAX_SPS]))
    profile = bits.u(8)
    bits.skip(16)  # constraint flags, level
    bits.ue_max(31)  # seq_parameter_set_id
    chroma, separate_planes = 1, False
    if profile in HIGH_PROFILES:
        chroma = bits.ue_max(3)
        if chroma == 3:
            separate_planes = bits.flag()
        bits.ue_max(6)  # bit depths
        bits.ue_max(6)
        bits.skip(1)
        if bits.flag():
            for index in range(12 if chroma == 3 else 8):
                if bits.flag():
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue_max(12)  # log2_max_frame_num_minus4
    _skip_poc(bits)
    bits.ue_max(32)  # max_num_ref_frames
    bits.skip(1)
    width_mbs, height_units = bits.ue() + 1, bits.ue() + 1
    frame_mbs_only = bits.flag()
    if not frame_mbs_only:
        bits.skip(1)
    bits.skip(1)  # direct_8x8_inference
    crop = (bits.ue(), bits.ue(), bits.ue(), bits.ue()) if bits.flag() else (0, 0, 0, 0)
    array_type = 0 if separate_planes else chroma
    unit_x = 1 if array_type in (0, 3) else 2
    unit_y = (2 if array_type == 1 else 1) * (2 - frame_mbs_only)
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - unit_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        raise Short("cropping larger than the picture")
    return Picture(width, height, _vui_sar(bits) if bits.flag() else 1.0)


def _skip_scaling_list(bits: BitReader, size: int) -> None:
    last = next_scale = 8
    for _ in range(size):
        if next_scale:
            next_scale = (last + bits.se()) % 256
        last = next_scale or last


def _skip_poc(bits: BitReader) -> None:
    kind = bits.ue_max(2)
    if kind == 0:
        bits.ue_max(12)
    elif kind == 1:
        bits.skip(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue_max(255)):
            bits.se()


def _vui_sar(bits: BitReader) -> float:
    """The pixel aspect of the VUI; 1 when it is absent or unspecified."""
    if not bits.flag():
        return 1.0
    index = bits.u(8)
    if index == EXTENDED_SAR:
        width, height = bits.u(16), bits.u(16)
    else:
        width, height = SAR_TABLE.get(index, (1, 1))
    return width / height if width and height else 1.0


def sps_in_annexb(data: bytes) -> bytes | None:
    """The first SPS NAL unit in an Annex B byte stream (start codes), as AVI and MPEG-TS
    carry H.264."""
    position = 0
    while True:
        found = data.find(b"\x00\x00\x01", position)
        if found < 0 or found + 3 >= len(data):
            return None
        start = found + 3
        if data[start] & 0x1F == NAL_SPS:
            end = data.find(b"\x00\x00\x01", start)
            return data[start:end if end >= 0 else len(data)]
        position = start
