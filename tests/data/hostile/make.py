"""Rebuild the hostile fixtures in this folder from ``seeds/`` (see README.md for each file).

``python tests/data/hostile/make.py`` writes every fixture again, byte for byte: the zzuf ones
with ``zzuf -s SEED -r RATIO < seeds/SEED_FILE`` (zzuf is deterministic for a seed and ratio),
the others by the byte surgery below. The committed files are the reference; this script
documents how they were made.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = HERE / "seeds"

# fixture: (seed file, zzuf seed, zzuf ratio)
ZZUF = {
    "hang-mediainfo.webm": ("seed.webm", 109, "0.01"),
    "hang-mediainfo-2.webm": ("seed.webm", 162, "0.01"),
    "gigabytes-mediainfo.mp4": ("seed-av.mp4", 47, "0.004"),
    "spin-mediainfo.mp4": ("seed-av.mp4", 172, "0.004"),
    "gigabytes-mediainfo-audio-only.mp4": ("seed-audio.mp4", 184, "0.004"),
    "slow-mediainfo.heic": ("seed.heic", 134, "0.002"),
    # These two passed the validator's MP4 structure checks and reached MediaInfo; the first
    # one, audio only, is refused from its boxes since the validator's a9ca7ea.
    "slow-mediainfo-audio-only.mp4": ("seed-audio.mp4", 2233, "0.004"),
    "gigabytes-mediainfo-no-video.mp4": ("seed-av.mp4", 3259, "0.01"),
    "garbled-scan.jpg": ("seed.jpg", 0, "0.002"),
    "garbled-scan-2.jpg": ("seed.jpg", 5, "0.002"),
    "garbled-idat.png": ("seed-noise.png", 92, "0.002"),
    "garbled-idat-2.png": ("seed-noise.png", 95, "0.002"),
    "contradictory-stsc-stco.mp4": ("seed.mp4", 577, "0.002"),
    "unreadable-header.mp4": ("seed.mp4", 596, "0.002"),
    "no-frame-size.mp4": ("seed.mp4", 580, "0.002"),
    # Found by the video branch's fuzz run (issue 16): main called all three ok.
    "fragment-without-trex.mp4": ("seed-fragmented.mp4", 35, "0.002"),
    "mjpeg-garbled-huffman.avi": ("seed-mjpeg.avi", 60, "0.002"),
    "mjpeg-garbled-huffman-2.avi": ("seed-mjpeg.avi", 1, "0.004"),
}


def zzuf(seed_file: str, seed: int, ratio: str) -> bytes:
    data = (SEEDS / seed_file).read_bytes()
    return subprocess.run(["zzuf", "-s", str(seed), "-r", ratio], input=data,
                          capture_output=True, check=True).stdout


def box_offset(data: bytes, path: list[bytes]) -> int:
    """Offset of the box at ``path`` (e.g. [b"moov", b"trak"]), walking ISO BMFF boxes."""
    start, end = 0, len(data)
    for name in path:
        while start < end:
            size, kind = struct.unpack(">I4s", data[start:start + 8])
            if kind == name:
                break
            start += size
        else:
            raise ValueError(f"no {name!r} box")
        found, start, end = start, start + 8, start + size
    return found


def truncated_camera_jpeg() -> bytes:
    """A camera JPEG cut off in transfer: the EXIF thumbnail (with its own FF D9) is whole,
    the primary image's scan is cut at 60 %."""
    data = (SEEDS / "seed.jpg").read_bytes()
    return data[: int(len(data) * 0.6)]


def png_huge_ihdr_length() -> bytes:
    """The IHDR chunk's length field says 3.3 × 10⁹ bytes; the rest is untouched."""
    data = bytearray((SEEDS / "seed-noise.png").read_bytes())
    struct.pack_into(">I", data, 8, 3_300_000_000)
    return bytes(data)


def mp4_trak_size(size: int) -> bytes:
    data = bytearray((SEEDS / "seed.mp4").read_bytes())
    struct.pack_into(">I", data, box_offset(data, [b"moov", b"trak"]), size)
    return bytes(data)


def mp4_mdhd_version(version: int) -> bytes:
    data = bytearray((SEEDS / "seed.mp4").read_bytes())
    data[box_offset(data, [b"moov", b"trak", b"mdia", b"mdhd"]) + 8] = version
    return bytes(data)


SURGERY = {
    "truncated-camera.jpg": truncated_camera_jpeg,
    "png-ihdr-length-3.3e9.png": png_huge_ihdr_length,
    "mp4-trak-size-7.mp4": lambda: mp4_trak_size(7),
    "mp4-mdhd-version-7f.mp4": lambda: mp4_mdhd_version(0x7F),
}


def build() -> dict[str, bytes]:
    made = {name: zzuf(*how) for name, how in ZZUF.items()}
    made.update({name: make() for name, make in SURGERY.items()})
    return made


def main() -> None:
    check = "--check" in sys.argv  # compare with the committed files instead of writing
    differ = []
    for name, data in build().items():
        target = HERE / name
        if check:
            if not target.exists() or target.read_bytes() != data:
                differ.append(name)
        else:
            target.write_bytes(data)
    if differ:
        sys.exit(f"differ from make.py: {', '.join(differ)}")


if __name__ == "__main__":
    main()
