"""The HEVC sequence parameter set: picture size with its conformance window, and the VUI's
pixel aspect (ITU-T H.265 7.3.2.2). Everything between the size and the VUI (scaling lists,
reference picture sets) is walked, since the aspect comes after it."""

from __future__ import annotations

from safetymonth.validator.formats.bits import BitReader, Short, unescape
from safetymonth.validator.formats.h264 import EXTENDED_SAR, MAX_SPS, SAR_TABLE
from safetymonth.validator.formats.picture import Picture

NAL_SPS = 33
MAX_SUB_LAYERS = 7
MAX_REF_SETS = 64
MAX_DELTA_POCS = 16


def parse_sps(nal: bytes) -> Picture:
    """The picture an SPS NAL unit (its two header bytes included) describes; raises
    :class:`Short` on a header that ffmpeg's decoder would refuse."""
    if len(nal) < 2 or (nal[0] >> 1) & 0x3F != NAL_SPS:
        raise Short("not an SPS")
    bits = BitReader(unescape(nal[2:MAX_SPS]))
    bits.skip(4)  # sps_video_parameter_set_id
    sub_layers = bits.u(3)
    if sub_layers >= MAX_SUB_LAYERS:
        raise Short("too many sub-layers")
    bits.skip(1)
    _skip_profile_tier_level(bits, sub_layers)
    bits.ue_max(15)  # sps_seq_parameter_set_id
    chroma = bits.ue_max(3)
    if chroma == 3 and bits.flag():
        chroma = 0  # separate colour planes: cropped in luma samples
    width, height = bits.ue(), bits.ue()
    unit_x = 2 if chroma in (1, 2) else 1
    unit_y = 2 if chroma == 1 else 1
    if bits.flag():
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    if width <= 0 or height <= 0:
        raise Short("conformance window larger than the picture")
    return Picture(width, height, _sar_after_size(bits, sub_layers))


def _skip_profile_tier_level(bits: BitReader, sub_layers: int) -> None:
    bits.skip(96)  # general profile, tier, level
    present = [(bits.flag(), bits.flag()) for _ in range(sub_layers)]
    if sub_layers:
        bits.skip(2 * (8 - sub_layers))
    for profile, level in present:
        bits.skip((88 if profile else 0) + (8 if level else 0))


def _sar_after_size(bits: BitReader, sub_layers: int) -> float:
    """Walk from the bit depths to the VUI and read its aspect; 1 when there is none."""
    bits.ue_max(8)  # bit depths
    bits.ue_max(8)
    log2_poc_lsb = bits.ue_max(12) + 4
    ordering_all = bits.flag()
    for _ in range(sub_layers + 1 if ordering_all else 1):
        bits.ue(), bits.ue(), bits.ue()
    for _ in range(6):  # coding and transform block sizes, transform hierarchy depths
        bits.ue()
    if bits.flag() and bits.flag():
        _skip_scaling_lists(bits)
    bits.skip(2)  # amp, sample_adaptive_offset
    if bits.flag():  # pcm
        bits.skip(8)
        bits.ue(), bits.ue()
        bits.skip(1)
    _skip_ref_pic_sets(bits)
    if bits.flag():  # long-term reference pictures
        for _ in range(bits.ue_max(32)):
            bits.skip(log2_poc_lsb + 1)
    bits.skip(2)  # temporal mvp, strong intra smoothing
    if not bits.flag():
        return 1.0
    if not bits.flag():
        return 1.0
    index = bits.u(8)
    width, height = (bits.u(16), bits.u(16)) if index == EXTENDED_SAR else SAR_TABLE.get(
        index, (1, 1))
    return width / height if width and height else 1.0


def _skip_scaling_lists(bits: BitReader) -> None:
    for size in range(4):
        for _ in range(0, 6, 3 if size == 3 else 1):
            if not bits.flag():
                bits.ue()
                continue
            if size > 1:
                bits.se()
            for _ in range(min(64, 1 << (4 + 2 * size))):
                bits.se()


def _skip_ref_pic_sets(bits: BitReader) -> None:
    count = bits.ue_max(MAX_REF_SETS)
    deltas: list[int] = []
    for index in range(count):
        if index and bits.flag():  # predicted from the previous set
            bits.skip(1)
            bits.ue()
            used = 0
            for _ in range(deltas[index - 1] + 1):
                if bits.flag() or bits.flag():
                    used += 1
            deltas.append(used)
            continue
        negative, positive = bits.ue_max(MAX_DELTA_POCS), bits.ue_max(MAX_DELTA_POCS)
        for _ in range(negative + positive):
            bits.ue()
            bits.skip(1)
        deltas.append(negative + positive)


def sps_in_hvcc(config: bytes) -> bytes | None:
    """The first SPS in an ``hvcC`` box body (HEVCDecoderConfigurationRecord)."""
    if len(config) < 23:
        return None
    position = 23
    for _ in range(config[22]):
        if position + 3 > len(config):
            return None
        kind = config[position] & 0x3F
        count = int.from_bytes(config[position + 1:position + 3], "big")
        position += 3
        for _ in range(count):
            length = int.from_bytes(config[position:position + 2], "big")
            nal = config[position + 2:position + 2 + length]
            if kind == NAL_SPS and len(nal) == length:
                return nal
            position += 2 + length
    return None
