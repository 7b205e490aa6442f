"""A bit reader for codec headers (H.264/HEVC parameter sets, MPEG-2 and MPEG-4 headers).

Codec headers are bit fields and Exp-Golomb codes, not byte structures; a hostile header can
claim any length, so every read is bounded by the bytes actually there and raises
:class:`Short` past them, and every Exp-Golomb code by 32 leading zeros (longer ones are not
valid in any of these standards).
"""

from __future__ import annotations

MAX_LEADING_ZEROS = 31


class Short(ValueError):
    """The header ended, or held a code no encoder writes, before the field we wanted."""


def unescape(nal: bytes) -> bytes:
    """The NAL unit's payload without its emulation prevention bytes (00 00 03 -> 00 00)."""
    if b"\x00\x00\x03" not in nal:
        return nal
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class BitReader:
    """Most significant bit first, as every MPEG header is written."""

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8

    def u(self, count: int) -> int:
        """An unsigned ``count``-bit field."""
        if count == 0:
            return 0
        if count > self._left:
            raise Short("header ends early")
        self._left -= count
        return (self._value >> self._left) & ((1 << count) - 1)

    def flag(self) -> bool:
        return self.u(1) == 1

    def skip(self, count: int) -> None:
        if count > self._left:
            raise Short("header ends early")
        self._left -= count

    def ue(self) -> int:
        """An unsigned Exp-Golomb code."""
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > MAX_LEADING_ZEROS:
                raise Short("Exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        """A signed Exp-Golomb code."""
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)

    def ue_max(self, limit: int) -> int:
        """An Exp-Golomb code the standard bounds by ``limit``: a larger one is a broken header."""
        value = self.ue()
        if value > limit:
            raise Short(f"value {value} over {limit}")
        return value

    @property
    def left(self) -> int:
        return self._left
