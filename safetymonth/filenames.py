"""File names every common file system accepts (Windows first), for files we write under
names that came from elsewhere: a unit's name (docgen's letters), an attachment's or a zip
member's name (``export``); and names as they are (:func:`plain_name`), for every name we
store, show or send."""

from __future__ import annotations

import re
import unicodedata

UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
# Names Windows reserves for devices, whatever the extension: CON.docx cannot be opened there.
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)),
                    *(f"LPT{n}" for n in range(1, 10))}
# A file name may hold 255 bytes; the stem leaves room for " (12345)" and an extension.
MAX_STEM_BYTES = 200
MAX_SUFFIX_CHARS = 16
# Characters that change how a name reads without being seen: the bidi embeddings, overrides
# and isolates, the directional marks, the zero-width space, joiners and word joiner, the BOM.
# "活动总结\u202excod.exe" shows as "活动总结exe.docx", and reverses the rest of its line.
INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u200b-\u200d\u2060\ufeff]")


def plain_name(name: str) -> str:
    """``name`` without the invisible characters that make it read otherwise (INVISIBLE): the
    name a clerk sees is the one the file has, its real extension last. Each of them is a
    format character, which ``isprintable`` rejects: most names take that fast way out."""
    return name if name.isprintable() else INVISIBLE.sub("", name)


def safe_stem(name: str, fallback: str) -> str:
    """A file-name stem from ``name`` that every common file system accepts.

    Characters Windows refuses (separators, control characters) become ``_``; leading and
    trailing dots and spaces go; the stem is cut to MAX_STEM_BYTES of UTF-8 (whole
    characters); a device name (CON, LPT1) gets a ``_`` in front; an empty result is
    ``fallback``.
    """
    stem = UNSAFE.sub("_", unicodedata.normalize("NFC", plain_name(name))).strip(" .")
    encoded = stem.encode("utf-8")
    if len(encoded) > MAX_STEM_BYTES:
        stem = encoded[:MAX_STEM_BYTES].decode("utf-8", errors="ignore").rstrip(" .")
    if not stem:
        stem = fallback
    if stem.split(".")[0].rstrip(" ").upper() in WINDOWS_RESERVED:
        stem = "_" + stem
    return stem


def safe_file_name(name: str, fallback: str) -> tuple[str, str]:
    """(stem, suffix) of a safe name for a file called ``name`` elsewhere: only its last
    path component counts (a zip member ``a/../b.jpg`` is ``b.jpg``), and its extension is
    kept when it is a plain one."""
    base = re.split(r"[\\/]", plain_name(name))[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem.strip(" .") or len(suffix) > MAX_SUFFIX_CHARS or \
            UNSAFE.search(suffix) or not suffix.strip():
        stem, suffix = base, ""
    suffix = f".{suffix.strip()}" if suffix else ""
    return safe_stem(stem, fallback), suffix


def unique(stem: str, suffix: str, taken: set[str]) -> str:
    """``stem + suffix``, or ``stem (2) + suffix``… so that it differs from every name in
    ``taken`` where case does not count (Windows, macOS); the name is added to ``taken``."""
    candidate, number = stem + suffix, 1
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{stem} ({number}){suffix}"
    taken.add(candidate.casefold())
    return candidate
