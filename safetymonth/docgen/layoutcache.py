"""Page counts LibreOffice gave for a document, kept by the hash of the document's XML, so
that a notice or summary the estimator cannot decide (estimate.py) pays for its LibreOffice
layout once, not at every run.

The cache is a folder the caller names (under the store: ``storage.dir``/var/layout), owner
only like the rest of the store; an entry is a small JSON file, written whole or not at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

from docx.document import Document

# Bumped when what decides the page count changes other than through the document's XML.
VERSION = b"layout-1"


def key(document: Document) -> str:
    """The hash of what LibreOffice lays out: every part of the package (body, styles,
    settings, footers, fonts) but its properties (author, dates)."""
    digest = hashlib.sha256(VERSION)
    parts = sorted(document.part.package.iter_parts(), key=lambda part: str(part.partname))
    for part in parts:
        if not str(part.partname).startswith("/docProps/"):
            digest.update(str(part.partname).encode() + b"\0" + part.blob + b"\0")
    return digest.hexdigest()


def read(folder: Path | None, name: str) -> tuple[int, int] | None:
    """The (body pages, pages with the 版记 under the body) stored for ``name``, if any."""
    if folder is None:
        return None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        entry = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        return int(entry["body_pages"]), int(entry["pages"])
    return None


def write(folder: Path | None, name: str, body_pages: int, pages: int) -> None:
    """Store the counts; a cache that cannot be written is only a slower next run."""
    if folder is None:
        return
    with contextlib.suppress(OSError):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".layout-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"body_pages": body_pages, "pages": pages}, out)
            os.replace(temporary, folder / f"{name}.json")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
