"""Thumbnails, made lazily on first view and cached under ``storage.dir/thumbs/`` by content
hash (owner-only, like everything in the store). Photos are reduced by Pillow, videos give a
poster frame from ffmpeg, both in the validator's probe sandbox (:mod:`safetymonth.validator.
thumbnail`: pooled workers under ``policy.probe``'s memory cap and time limit), so a photo or
video that makes its decoder loop or balloon costs one thumbnail (it is remembered as failed
and never retried), not the console."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from safetymonth.config import Config
from safetymonth.storage.credit import FileView
from safetymonth.validator import thumbnail as sandboxed
from safetymonth.validator.formats import registry

SIZE = 320
FAILED = ".failed"


def cache_path(config: Config, sha256: str) -> Path:
    folder = config.storage_dir / "thumbs" / sha256[:2]
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder / f"{sha256}.jpg"


def wanted(view: FileView) -> bool:
    """A thumbnail is made for a whole stored file (not a zip member) the validator could
    read, of a format that registered a thumbnail (photos and videos)."""
    return view.name == view.attachment_name and _maker(view) is not None \
        and bool(view.verdict.get("width"))


def _maker(view: FileView) -> registry.Thumbnail | None:
    return registry.thumbnail_for(view.kind, view.verdict.get("format"))


def thumbnail(config: Config, view: FileView, source: Path) -> Path | None:
    """The cached thumbnail of ``view`` (made now if need be), or None when it cannot be."""
    target = cache_path(config, view.sha256)
    if target.exists():
        return target
    if target.with_suffix(FAILED).exists():
        return None
    temp = target.with_suffix(f".{uuid.uuid4().hex}.tmp")  # threads may make the same one
    maker = _maker(view)
    if maker and sandboxed.make(maker, source, temp, SIZE, config.policy.max_image_pixels,
                      config.policy.probe) and temp.stat().st_size > 0:
        os.chmod(temp, 0o600)
        os.replace(temp, target)
        return target
    temp.unlink(missing_ok=True)
    descriptor = os.open(target.with_suffix(FAILED), os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(descriptor)
    return None
