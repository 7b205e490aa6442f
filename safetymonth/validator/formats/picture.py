"""The size a video's pictures decode to, and how it overrides what the container claims.

A container's size fields (``tkhd``, the sample entry, AVI's ``strf``) are written by the
muxer and never used by a decoder: a player shows what the codec's own headers say (the H.264
or HEVC SPS, the MPEG-2 sequence header, the MPEG-4 VOL, MJPEG's SOF). When the two disagree,
the codec is right, as ffprobe and every player show, and a verdict names that size.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SIDE = 16384  # larger than any camera writes (8K is 7680)


@dataclass(frozen=True)
class Picture:
    """Stored picture size after cropping, and its sample (pixel) aspect ratio."""

    width: int
    height: int
    sar: float = 1.0

    def plausible(self) -> bool:
        return 0 < self.width <= MAX_SIDE and 0 < self.height <= MAX_SIDE and self.sar > 0

    def displayed(self, turned: bool = False) -> tuple[int, int]:
        """Width widened (or narrowed) by the pixel aspect, traded with the height for a
        quarter turn of the display matrix."""
        width = round(self.width * self.sar) if abs(self.sar - 1) > 0.001 else self.width
        return (self.height, width) if turned else (width, self.height)


def sar_from_dar(width: int, height: int, dar: float | None) -> float:
    """The pixel aspect for a display aspect (MPEG-2 signals DAR, not SAR)."""
    if not dar or not width or not height:
        return 1.0
    return dar * height / width
