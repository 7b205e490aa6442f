"""The ``docgen`` options config.yaml gives, for ``safetymonth generate`` and the console
alike, so both make the same document from the same data."""

from __future__ import annotations

from pathlib import Path

from safetymonth import docgen
from safetymonth.config import Config

LAYOUT_CACHE = "layout"  # under storage.dir: LibreOffice's page counts by document hash


def document_options(config: Config) -> docgen.Options:
    """The faces, the 版记's page, and where LibreOffice's layouts are kept: under
    ``storage.dir`` once it exists (never a folder of its own made there by ``generate``,
    nor one reached through a symlink)."""
    return docgen.Options(docgen.Faces.from_overrides(config.docgen.fonts),
                          config.docgen.imprint_on_even_page, _layout_cache(config.storage_dir))


def _layout_cache(storage_dir: Path) -> Path | None:
    folder = storage_dir / LAYOUT_CACHE
    if not storage_dir.is_dir() or storage_dir.is_symlink() or folder.is_symlink():
        return None
    return folder
