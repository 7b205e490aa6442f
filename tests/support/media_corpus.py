"""The validator's test corpus: real files made by ffmpeg, Pillow, pillow-heif and LibreOffice.

Each entry is built once per test session. Sizes stay small (one-second, low-frame-rate
videos; gradients for photos) so the whole corpus takes seconds.
"""

from __future__ import annotations

import fcntl
import io
import shutil
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from safetymonth import samples

Maker = Callable[[Path], Path]


def png_bomb(path: Path, side: int = 40_000) -> Path:
    """A complete, valid PNG of side×side 1-bit pixels, all zero: a few hundred KB on disk,
    1.6 gigapixels declared. Decoding it would take gigabytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    row = b"\x00" * (1 + side // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
                     + chunk(b"IEND", b""))
    return path


def pillow_loads(path: Path) -> bool:
    """Whether a full Pillow decode of the file succeeds: the independent judgement a photo
    verdict is cross-checked against (every file it is used on is small)."""
    try:
        with Image.open(path) as image:
            image.load()
    except Exception:
        return False
    return True


def ffmpeg_decodes(path: Path) -> bool:
    """Whether ffmpeg decodes every video frame without an error: the independent judgement
    a video verdict is cross-checked against."""
    result = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v?", "-f",
                             "null", "-"], capture_output=True, text=True, timeout=120)
    return result.returncode == 0 and not result.stderr.strip()



def ffmpeg(path: Path, *arguments: str) -> Path:
    """``ffmpeg -y ARGUMENTS PATH``: a file made for one test."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", *arguments, str(path)], check=True,
                   timeout=120)
    return path


def truncated(maker: Maker, keep: float) -> Maker:
    """A maker whose file is cut to ``keep`` of its length, as a failed transfer leaves it."""
    def make(path: Path) -> Path:
        full = maker(path.with_name("full-" + path.name))
        data = full.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
        return path
    return make


def zip_of(members: dict[str, bytes], gbk: bool = False) -> Maker:
    return lambda path: samples.make_zip(path, members, gbk_names=gbk)


def zip_bomb(path: Path) -> Path:
    """One member of 200 MB of zeros, about 200 KB compressed: ratio about 1000."""
    block = b"\x00" * (1024 * 1024)
    with (zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
          archive.open("photos/清单.jpg", "w", force_zip64=True) as member):
        for _ in range(200):
            member.write(block)
    return path


def heic(path: Path) -> Path:
    import pillow_heif

    pillow_heif.register_heif_opener()
    # x265's fastest preset: the same 12 MP HEIC in a fifth of the encoding time (6 s of CPU).
    Image.linear_gradient("L").resize((4032, 3024)).convert("RGB").save(
        path, "HEIF", enc_params={"preset": "ultrafast"})
    return path


def office_doc(path: Path) -> Path:
    """A Word 97 .doc converted by LibreOffice from a .docx."""
    workdir = path.parent / "office-work"
    workdir.mkdir(exist_ok=True)
    source = samples.make_docx(workdir / "source.docx", "安全管理月活动总结")
    subprocess.run(["soffice", "--headless", "--convert-to", "doc", "--outdir", str(workdir),
                    str(source)], check=True, capture_output=True, timeout=180)
    shutil.move(workdir / "source.doc", path)
    shutil.rmtree(workdir)
    return path


def photo(width: int, height: int, fmt: str = "JPEG", orientation: int | None = None) -> Maker:
    return lambda path: samples.make_photo(path, width, height, fmt, orientation)


def video(width: int, height: int, container: str = "mp4", **options: object) -> Maker:
    return lambda path: samples.make_video(path, width, height, container, **options)


def psd(width: int, height: int, depth: int = 8, version: int = 1) -> Maker:
    return lambda path: samples.make_psd(path, width, height, depth, version)


def text(content: bytes) -> Maker:
    def make(path: Path) -> Path:
        path.write_bytes(content)
        return path
    return make


def jpeg_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "gray").save(buffer, "JPEG")
    return buffer.getvalue()


# file name -> maker. Names carry the extension a sender would use.
CORPUS: dict[str, Maker] = {
    # photos: formats and boundaries
    "ok-1920x1080.jpg": photo(1920, 1080),
    "low-1919x1080.jpg": photo(1919, 1080),
    "low-1920x1079.jpg": photo(1920, 1079),
    "portrait-1080x1920.jpg": photo(1080, 1920),
    "wechat-1280x960.jpg": photo(1280, 960),
    "exif6-stored-2000x1000.jpg": photo(2000, 1000, orientation=6),
    "exif8-stored-1080x1920.jpg": photo(1080, 1920, orientation=8),
    "ok-2560x1440.png": photo(2560, 1440, "PNG"),
    "low-1919x1080.png": photo(1919, 1080, "PNG"),
    "exif6-stored-2000x1000.png": photo(2000, 1000, "PNG", orientation=6),
    "ok-1920x1080.psd": psd(1920, 1080),
    "ok-16bit-1920x1080.psd": psd(1920, 1080, depth=16),
    "ok-4000x3000.psb": psd(4000, 3000, version=2),
    "low-1900x1080.psd": psd(1900, 1080),
    "phone.heic": heic,
    "forward.webp": photo(2000, 1500, "WEBP"),
    # videos: formats and boundaries
    "ok-1920x1080.mp4": video(1920, 1080),
    "ok-1280x720.mp4": video(1280, 720),
    "low-1279x720.mp4": video(1279, 720, extra=["-pix_fmt", "yuv444p"]),
    "low-1280x718.mp4": video(1280, 718),
    "rotated-90.mp4": video(1920, 1080, rotate=90),
    "anamorphic-1440x1080.mp4": video(1440, 1080, sar="4/3"),
    "ok-1920x1080.avi": video(1920, 1080, "avi"),
    "ok-1920x1080.mpg": video(1920, 1080, "mpg2"),
    "ok-1920x1080.mts": video(1920, 1080, "mts"),
    "plain-1920x1080.ts": video(1920, 1080, "ts"),
    "iphone.mov": video(1920, 1080, "mov"),
    "download.mkv": video(1920, 1080, "mkv"),
    "old-mpeg1.mpg": video(1920, 1080, "mpg1"),
    # documents
    "summary.docx": lambda path: samples.make_docx(path),
    "summary.pdf": lambda path: samples.make_pdf(path),
    "summary.doc": office_doc,
    # broken and hostile
    "truncated.jpg": truncated(photo(1920, 1080), 0.6),
    "truncated.png": truncated(photo(2560, 1440, "PNG"), 0.6),
    "truncated.mp4": truncated(video(1920, 1080), 0.6),
    "truncated-faststart.mp4": truncated(
        video(1920, 1080, extra=["-movflags", "+faststart"]), 0.6),
    "truncated.avi": truncated(video(1920, 1080, "avi"), 0.6),
    "truncated.pdf": truncated(lambda path: samples.make_pdf(path), 0.5),
    "empty.jpg": text(b""),
    "not-a-photo.jpg": text("这不是照片，是一段文字。\n".encode() * 20),
    "bomb-40000x40000.png": png_bomb,
    "gbk-names.zip": zip_of({"培训现场.jpg": jpeg_bytes(1920, 1080),
                             "演练视频说明.pdf": b"%PDF-1.4\n%%EOF\n"}, gbk=True),
    "traversal.zip": zip_of({"../../evil.jpg": jpeg_bytes(1920, 1080),
                             "/etc/cron.jpg": jpeg_bytes(1920, 1080),
                             "C:\\Windows\\x.jpg": jpeg_bytes(1920, 1080),
                             "good.jpg": jpeg_bytes(1920, 1080)}),
    "bomb.zip": zip_bomb,
    # a JPEG that a sender renamed
    "renamed-jpeg.png": photo(1920, 1080),
}


def build_shared(root: Path) -> dict[str, Path]:
    """The corpus in ``root/media``, built by the first of the run's processes that asks (the
    xdist workers share ``root``) while the others wait on a lock, then read by all: the files
    are never changed, and building them is 15 s of CPU."""
    folder = root / "media"
    with (root / "media.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".built").exists():
            build(folder)
            (folder / ".built").touch()
    return {name: folder / name for name in CORPUS}


def build(folder: Path) -> dict[str, Path]:
    """Every file of the corpus, two at a time: most are made by ffmpeg or LibreOffice in a
    process of their own, and the other xdist worker is usually waiting for them anyway."""
    folder.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(maker, folder / name) for name, maker in CORPUS.items()}
        made = {name: future.result() for name, future in futures.items()}
    for leftover in folder.glob("full-*"):
        leftover.unlink()
    return made
