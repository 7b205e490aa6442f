"""Thumbnails of photos and poster frames of videos, as tasks for the probe sandbox
(:mod:`safetymonth.validator.sandbox`): a hostile file meets Pillow or ffmpeg only in a pooled
worker under ``policy.probe``'s memory cap and time limit (ffmpeg, a child of the worker,
inherits the cap and gets the same time limit).

Each task returns whether it wrote ``target``; a file that cannot be read (a decompression
bomb, a truncated photo, a video ffmpeg gives no frame for) is a plain False, never an error.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from safetymonth.config import ProbeLimits
from safetymonth.validator import sandbox


def photo(source: str, target: str, size: int, max_pixels: int) -> bool:
    """``source`` reduced to fit ``size`` × ``size`` (EXIF orientation applied) as a JPEG at
    ``target``; False, without decoding a pixel, when it has more than ``max_pixels``."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    # Pillow's own guard (for what a header hides) is a process global the validator's
    # probes also meet in this worker: set for this task only (a worker runs one at a time).
    guard, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
    try:
        with Image.open(source) as image:
            width, height = image.size
            if width * height > max_pixels:
                return False
            image.draft("RGB", (size, size))  # JPEG: decode at 1/2…1/8 scale
            shown = ImageOps.exif_transpose(image)
            shown.thumbnail((size, size))
            shown.convert("RGB").save(target, "JPEG", quality=80)
    except (OSError, ValueError, SyntaxError, EOFError, UnidentifiedImageError,
            Image.DecompressionBombError):
        return False
    finally:
        Image.MAX_IMAGE_PIXELS = guard
    return True


def poster(source: str, target: str, size: int, timeout: float) -> bool:
    """A frame one second into the video at ``source`` (a shorter one gives its first),
    scaled to fit ``size`` × ``size``, as a JPEG at ``target``."""
    for offset in ("1", "0"):
        try:
            subprocess.run(
                ["ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-ss", offset, "-i",
                 source, "-frames:v", "1", "-vf",
                 f"scale={size}:{size}:force_original_aspect_ratio=decrease", "-f", "image2",
                 "-c:v", "mjpeg", "-y", target],
                check=True, capture_output=True, timeout=timeout)
        except (OSError, subprocess.SubprocessError):
            continue
        if Path(target).exists() and Path(target).stat().st_size > 0:
            return True
    return False


def make(maker: str, source: Path, target: Path, size: int, max_pixels: int,
         limits: ProbeLimits) -> bool:
    """A photo's thumbnail (``maker`` "photo") or a video's poster frame ("poster", as the
    file's format registered) at ``target``, made in the sandbox; False when the file gives
    none (or its worker overran)."""
    try:
        if maker == "photo":
            return sandbox.run(photo, (str(source), str(target), size, max_pixels), limits)
        # ffmpeg gets the limit for each of its two tries; the worker waits for both.
        return sandbox.run(poster, (str(source), str(target), size, limits.timeout),
                           ProbeLimits(max_memory=limits.max_memory,
                                       timeout=limits.timeout * 2 + 1))
    except sandbox.Overrun:
        return False
