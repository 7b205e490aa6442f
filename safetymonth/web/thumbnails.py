"""Thumbnails, made lazily on first view and cached under ``storage.dir/thumbs/`` by content
hash (owner-only, like everything in the store). Photos are reduced by Pillow, videos give a
poster frame from ffmpeg; either runs in a process of its own with an address-space cap and a
time limit, so a photo or video that makes its decoder loop or balloon costs one thumbnail
(it is remembered as failed and never retried), not the console."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from safetymonth.config import Config
from safetymonth.storage.credit import FileView

SIZE = 320
MEMORY = 1024 * 1024 * 1024  # address space of one thumbnail process
SECONDS = 20
FAILED = ".failed"


def cache_path(config: Config, sha256: str) -> Path:
    folder = config.storage_dir / "thumbs" / sha256[:2]
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder / f"{sha256}.jpg"


def wanted(view: FileView) -> bool:
    """A thumbnail is made for a whole stored file (not a zip member) that is a photo or a
    video the validator could read."""
    return view.name == view.attachment_name and view.kind in ("photo", "video") \
        and bool(view.verdict.get("width"))


def thumbnail(config: Config, view: FileView, source: Path) -> Path | None:
    """The cached thumbnail of ``view`` (made now if need be), or None when it cannot be."""
    target = cache_path(config, view.sha256)
    if target.exists():
        return target
    if target.with_suffix(FAILED).exists():
        return None
    temp = target.with_suffix(f".{os.getpid()}.tmp")
    try:
        _make(config, view.kind, source, temp)
        os.chmod(temp, 0o600)
        os.replace(temp, target)
        return target
    except (OSError, subprocess.SubprocessError):
        temp.unlink(missing_ok=True)
        descriptor = os.open(target.with_suffix(FAILED), os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(descriptor)
        return None


def _make(config: Config, kind: str, source: Path, target: Path) -> None:
    if kind == "photo":
        _run([sys.executable, "-m", "safetymonth.web.thumbnail_worker", str(source),
              str(target), str(SIZE), str(config.policy.max_image_pixels), str(MEMORY),
              str(SECONDS)], target)
        return
    try:  # a frame one second in; a shorter video gives its first
        _run(_poster(source, target, "1"), target)
    except (OSError, subprocess.SubprocessError):
        _run(_poster(source, target, "0"), target)


def _poster(source: Path, target: Path, offset: str) -> list[str]:
    return ["prlimit", f"--as={MEMORY}", f"--cpu={SECONDS}", "ffmpeg", "-nostdin", "-v",
            "error", "-threads", "1", "-ss", offset, "-i", str(source), "-frames:v", "1",
            "-vf", f"scale={SIZE}:{SIZE}:force_original_aspect_ratio=decrease", "-f", "image2",
            "-c:v", "mjpeg", "-y", str(target)]


def _run(command: list[str], target: Path) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=SECONDS * 2)
    if not target.exists() or target.stat().st_size == 0:
        raise OSError("no picture made")
