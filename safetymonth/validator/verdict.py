"""The result of checking one file: what it is, its displayed size, and why it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    DOCUMENT = "document"
    ARCHIVE = "archive"
    OTHER = "other"


class Code(StrEnum):
    """Stable reason codes (DESIGN.md); scripts match on them, so never rename one."""

    FORMAT_NOT_ALLOWED = "format_not_allowed"
    RESOLUTION_TOO_LOW = "resolution_too_low"
    CORRUPT = "corrupt"
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_LARGE = "too_large"
    EMPTY = "empty"
    UNSAFE_ARCHIVE = "unsafe_archive"
    # A warning, not a failure.
    EXTENSION_MISMATCH = "extension_mismatch"


@dataclass(frozen=True)
class Finding:
    """A reason or a warning: a stable code and a Chinese sentence that says what to do."""

    code: Code
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "message": self.message}


@dataclass
class Verdict:
    """One file's verdict. ``width``/``height`` are the displayed size (after rotation)."""

    path: str
    kind: Kind = Kind.OTHER
    format: str | None = None
    width: int | None = None
    height: int | None = None
    reasons: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    # A zip member's index in its archive's central directory: what identifies it (two
    # members may share a name). Stored with the verdict; not part of the JSON contract.
    member: int | None = None

    @property
    def ok(self) -> bool:
        return not self.reasons

    def fail(self, code: Code, message: str) -> Verdict:
        self.reasons.append(Finding(code, message))
        return self

    def warn(self, code: Code, message: str) -> Verdict:
        self.warnings.append(Finding(code, message))
        return self

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: ``{path, kind, format, width, height, ok, reasons, warnings}``."""
        return {
            "path": self.path,
            "kind": str(self.kind),
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "ok": self.ok,
            "reasons": [finding.to_dict() for finding in self.reasons],
            "warnings": [finding.to_dict() for finding in self.warnings],
        }

    def record(self) -> dict[str, Any]:
        """What the store keeps: :meth:`to_dict`, and a member's index in its zip."""
        stored = self.to_dict()
        if self.member is not None:
            stored["member"] = self.member
        return stored
