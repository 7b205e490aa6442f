"""Type by content, never by extension: the magic bytes at the start of a file.

``sniff`` answers with the registered format whose probe reads the file next and, where the
first bytes already settle it, the final format name; the magic tests are the registered
formats' own (:mod:`safetymonth.validator.formats.registry`), tried in registration order.
Extensions are consulted only afterwards, to warn when they disagree (``extension_mismatch``).
"""

from __future__ import annotations

from safetymonth.validator.formats import registry
from safetymonth.validator.formats.registry import Sniffed

HEAD_SIZE = 4096

__all__ = ["HEAD_SIZE", "Sniffed", "extension_mismatch", "sniff"]


def sniff(head: bytes) -> Sniffed | None:
    """The format a file's first bytes belong to, or None when nothing matches."""
    return registry.sniff(head)


def extension_mismatch(suffix: str, fmt: str | None) -> bool:
    """True when a file named ``*.suffix`` turns out to be ``fmt``; unknown formats never are."""
    return bool(fmt) and not registry.honest_extension(suffix, fmt)
