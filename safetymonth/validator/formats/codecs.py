"""The picture size a video stream's own headers declare, by codec.

Two ways in: a sample entry's configuration box (MP4: ``avcC``, ``hvcC``, ``esds``), and the
start of the first frame (AVI: an H.264 Annex B access unit, an MPEG-4 Part 2 VOL, a JPEG).
Each returns a :class:`Picture`, None when the codec is not one we parse (the frame decode
still judges it), and raises :class:`Short` on a header the decoder would refuse.
"""

from __future__ import annotations

import io

from safetymonth.validator.formats import h264, hevc, jpeg, mpegvideo
from safetymonth.validator.formats.bits import Short
from safetymonth.validator.formats.picture import Picture

__all__ = ["Short", "decoder_specific_info", "from_config", "from_frame"]

ESDS_DECODER_SPECIFIC = 0x05


def from_config(kind: bytes, config: bytes) -> Picture | None:
    """The picture declared by a sample entry's configuration box of type ``kind``."""
    if kind == b"avcC":
        return _avcc(config)
    if kind == b"hvcC":
        sps = hevc.sps_in_hvcc(config)
        if sps is None:
            raise Short("hvcC without an SPS")
        return hevc.parse_sps(sps)
    if kind == b"esds":
        info = decoder_specific_info(config)
        return mpegvideo.video_object_layer(info) if info else None
    return None


def from_frame(codec: str, frame: bytes) -> Picture | None:
    """The picture declared at the start of a first frame of ``codec`` (H264, MPEG4, MJPEG,
    MPEG2)."""
    if codec == "H264":
        sps = h264.sps_in_annexb(frame)
        return h264.parse_sps(sps) if sps else None
    if codec == "MPEG4":
        return mpegvideo.video_object_layer(frame)
    if codec == "MPEG2":
        return mpegvideo.sequence_header(frame)
    if codec == "MJPEG":
        layout = jpeg.read_layout(io.BytesIO(frame), len(frame))
        if not (layout.width and layout.height):
            raise Short("MJPEG frame without a frame header")
        return Picture(layout.width, layout.height)
    return None


def _avcc(config: bytes) -> Picture:
    """The first SPS of an ``avcC`` body (AVCDecoderConfigurationRecord)."""
    if len(config) < 8 or config[0] != 1 or not config[5] & 0x1F:
        raise Short("avcC without an SPS")
    length = int.from_bytes(config[6:8], "big")
    sps = config[8:8 + length]
    if len(sps) != length:
        raise Short("avcC SPS runs past its box")
    return h264.parse_sps(sps)


def decoder_specific_info(esds: bytes) -> bytes | None:
    """The DecoderSpecificInfo descriptor of an ``esds`` body (after version and flags)."""
    position = 4
    while position + 2 <= len(esds):
        tag = esds[position]
        length, position = _descriptor_length(esds, position + 1)
        if tag == ESDS_DECODER_SPECIFIC:
            return esds[position:position + length]
        # ES_Descriptor (3) and DecoderConfigDescriptor (4) contain the one we want.
        position += {3: 3, 4: 13}.get(tag, length)
    return None


def _descriptor_length(data: bytes, position: int) -> tuple[int, int]:
    length = 0
    for _ in range(4):
        if position >= len(data):
            break
        byte = data[position]
        position += 1
        length = (length << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return length, position
