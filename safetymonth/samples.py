"""Sample media for the demo, the tests and the benchmarks: real files, made by Pillow and ffmpeg.

``python -m safetymonth.samples FOLDER`` writes a small mixed set, some files passing and some
failing on purpose, the kind of set a clerk sees in a week of mail.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image

# ffmpeg muxer and codec arguments per container we make.
VIDEO_RECIPES: dict[str, list[str]] = {
    "mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mp4"],
    "mov": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mov"],
    "avi": ["-c:v", "mpeg4", "-q:v", "10", "-f", "avi"],
    # MPEG-1/2 accept only broadcast frame rates.
    "mpg2": ["-r", "25", "-c:v", "mpeg2video", "-q:v", "10", "-f", "vob"],
    "mpg1": ["-r", "25", "-c:v", "mpeg1video", "-q:v", "10", "-f", "mpeg"],
    # BDAV: MPEG-TS with 192-byte packets (a 4-byte timestamp before each 188-byte packet).
    "mts": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-f", "mpegts", "-mpegts_m2ts_mode", "1"],
    "ts": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mpegts"],
    "mkv": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "matroska"],
    "webm": ["-c:v", "libvpx", "-deadline", "realtime", "-f", "webm"],
}


def require_ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if not found:
        raise RuntimeError("ffmpeg is not installed (Debian package ffmpeg)")
    return found


def make_video(path: Path, width: int, height: int, container: str = "mp4",
               seconds: float = 1.0, rotate: int | None = None, sar: str | None = None,
               fps: int = 5, extra: list[str] | None = None) -> Path:
    """A short test-pattern video. ``rotate`` writes a display-matrix rotation (MP4/MOV);
    ``sar`` such as ``4/3`` makes an anamorphic stream."""
    command = [require_ffmpeg(), "-v", "error", "-y", "-f", "lavfi",
               "-i", f"testsrc=size={width}x{height}:rate={fps}:duration={seconds}"]
    if sar:
        command += ["-vf", f"setsar={sar}"]
    command += VIDEO_RECIPES[container] + (extra or [])
    subprocess.run([*command, str(path)], check=True)
    if rotate:
        set_mp4_rotation(path, rotate)
    return path


# Display matrices (a, b, c, d of the tkhd matrix, 16.16 fixed point) per clockwise rotation.
ROTATION_MATRICES = {90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}


def set_mp4_rotation(path: Path, degrees: int) -> None:
    """Write a rotation into the first track header, as phones do for portrait video.

    ffmpeg 5.1 (Debian 12) has no option that writes the display matrix, so it is patched in.
    """
    data = bytearray(path.read_bytes())
    box = data.find(b"tkhd")
    version = data[box + 4]
    matrix_at = box + 8 + (20 if version == 0 else 32) + 16
    a, b, c, d = (value * 0x10000 for value in ROTATION_MATRICES[degrees])
    data[matrix_at:matrix_at + 36] = struct.pack(">9i", a, b, 0, c, d, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))


def make_photo(path: Path, width: int, height: int, fmt: str = "JPEG",
               orientation: int | None = None) -> Path:
    """A photo with a gradient; ``orientation`` writes an EXIF Orientation tag (1-8)."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    options: dict[str, object] = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    if fmt == "JPEG":
        options["quality"] = 70
    image.save(path, fmt, **options)
    return path


def make_psd(path: Path, width: int, height: int, depth: int = 8, version: int = 1) -> Path:
    """A flat RGB Photoshop file (version 2 is PSB), RLE-compressed so it stays small.

    Pillow cannot write PSD, and the format's header is simple enough to write directly.
    """
    channels = 3
    header = b"8BPS" + struct.pack(">H6xHIIHH", version, channels, height, width, depth, 3)
    row_bytes = width * depth // 8
    packed_row = _packbits_constant(row_bytes)
    count_format = ">H" if version == 1 else ">I"
    counts = struct.pack(count_format, len(packed_row)) * (height * channels)
    body = b"".join([
        struct.pack(">I", 0),  # colour mode data
        struct.pack(">I", 0),  # image resources
        struct.pack(">I" if version == 1 else ">Q", 0),  # layer and mask information
        struct.pack(">H", 1),  # RLE
        counts,
        packed_row * (height * channels),
    ])
    path.write_bytes(header + body)
    return path


def _packbits_constant(length: int, value: int = 0x80) -> bytes:
    """PackBits for a row of ``length`` identical bytes."""
    out = bytearray()
    while length:
        run = min(length, 128)
        out += bytes([257 - run if run > 1 else 0, value])
        length -= run
    return bytes(out)


def make_docx(path: Path, text: str = "活动情况总结") -> Path:
    from docx import Document

    document = Document()
    document.add_paragraph(text)
    document.save(path)
    return path


def make_pdf(path: Path) -> Path:
    """A one-page PDF, written by Pillow."""
    Image.new("RGB", (200, 100), "white").save(path, "PDF")
    return path


def make_zip(path: Path, members: dict[str, bytes], gbk_names: bool = False) -> Path:
    """A zip of ``members``; ``gbk_names`` writes names as Chinese Windows tools do: GBK bytes
    without the UTF-8 flag."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    if gbk_names:
        _rewrite_names_as_gbk(path)
    return path


def _rewrite_names_as_gbk(path: Path) -> None:
    """Swap each UTF-8 name for its GBK bytes and clear the UTF-8 flag (bit 11), in both the
    local and the central headers. Lengths change, so the archive is rebuilt record by record."""
    with zipfile.ZipFile(path) as source:
        members = source.infolist()
    output = io.BytesIO()
    central = []
    for info in members:
        name = info.filename.encode("gbk")
        flags = info.flag_bits & ~0x800
        offset = output.tell()
        fields = (info.compress_type, 0, 0x21, info.CRC, info.compress_size, info.file_size,
                  len(name))
        output.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, *fields, 0))
        output.write(name + _raw_member_bytes(path, info))
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, *fields,
                                   0, 0, 0, 0, 0, offset) + name)
    start = output.tell()
    output.write(b"".join(central))
    size = output.tell() - start
    output.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                             size, start, 0))
    path.write_bytes(output.getvalue())


def _raw_member_bytes(path: Path, info: zipfile.ZipInfo) -> bytes:
    """The compressed bytes of one member, read past its local header."""
    with path.open("rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        handle.seek(info.header_offset + 30 + name_length + extra_length)
        return handle.read(info.compress_size)


def make_sample_set(folder: Path) -> list[Path]:
    """The demo set: what a week of mail brings, good files and typical mistakes."""
    folder.mkdir(parents=True, exist_ok=True)
    made = [
        make_photo(folder / "消防演练.jpg", 1920, 1080),
        make_photo(folder / "竖拍照片.jpg", 1080, 1920),
        make_photo(folder / "微信压缩图.jpg", 1280, 960),
        make_photo(folder / "隐患整改.png", 2560, 1440, "PNG"),
        make_psd(folder / "宣传海报.psd", 1920, 1080),
        make_video(folder / "应急疏散.mp4", 1920, 1080, "mp4"),
        make_video(folder / "苹果手机.mov", 1920, 1080, "mov"),
        make_video(folder / "摄像机.mts", 1920, 1080, "mts"),
        make_video(folder / "旧手机.avi", 640, 480, "avi"),
        make_docx(folder / "活动总结.docx"),
    ]
    photo = (folder / "消防演练.jpg").read_bytes()
    made.append(make_zip(folder / "照片打包.zip", {"培训现场.jpg": photo}, gbk_names=True))
    return made


def fill_folder_from_argv(make: Callable[[Path], list[Path]], default: str) -> tuple[Path, int]:
    """What a sample script's ``main`` does: ``make`` fills the folder named by its one
    argument (``default`` without one). The folder and how many files were made."""
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(default)
    return folder, len(make(folder))


def main() -> None:
    folder, made = fill_folder_from_argv(make_sample_set, "var/samples")
    print(f"wrote {made} sample files to {folder}")


if __name__ == "__main__":
    main()
