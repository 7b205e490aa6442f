"""The ``policy:`` section of ``config.yaml``: what a photo, a video or a document must meet.

Format names are checked against the validator's format registry, imported when a policy is
first validated (the registry's plugins import this module's models for their probes).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from safetymonth.sections import ByteSize, GiB, MiB
from safetymonth.sections import Strict as _Strict


def known_formats(*kinds: str) -> tuple[str, ...]:
    """The names the validator reports for ``kinds``, as its plugins registered them. Imported
    when a policy is first validated, not with this module: the validator imports this one."""
    from safetymonth.validator.formats import registry

    return registry.names(*kinds)


def _format_names(value: object, kinds: tuple[str, ...]) -> object:
    """Upper-case, aliases resolved (JPG is JPEG), and only names the validator can report."""
    if not isinstance(value, list):
        return value
    from safetymonth.validator.formats import registry

    names = [registry.canonical(name) for name in value]
    known = known_formats(*kinds)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown format {', '.join(unknown)}; expected some of "
                         f"{', '.join(known)}")
    return names


class SizeRule(_Strict):
    """Minimum displayed size, orientation-agnostic (long side and short side)."""

    formats: list[str]
    min_long_side: int = Field(ge=0)
    min_short_side: int = Field(ge=0)
    # None: as ``policy.inclusive``. The 2016 notice wants videos strictly above 1280×720
    # ("大于") but photos at least 1920×1080, which only a per-kind setting can say.
    inclusive: bool | None = None

    @field_validator("formats", mode="before")
    @classmethod
    def _known_formats(cls, value: object) -> object:
        return _format_names(value, ("photo", "video"))

    @model_validator(mode="after")
    def _long_not_shorter(self) -> SizeRule:
        if self.min_long_side < self.min_short_side:
            raise ValueError("min_long_side must be at least min_short_side")
        return self


class PhotoRule(SizeRule):
    """Photos also say how their pixel data is checked: ``scaled`` decodes a JPEG at 1/8 scale
    and inflates a PNG's image data (nothing kept), ``off`` trusts the structure alone."""

    decode: Literal["scaled", "off"] = "scaled"


class VideoRule(SizeRule):
    """Videos also say whether one picture is decoded: ``frame`` decodes the first keyframe
    in a sandbox worker (the size a player shows, and proof that a decoder opens the file),
    ``off`` trusts the container's and the codec's headers alone."""

    decode: Literal["frame", "off"] = "frame"


class ProbeLimits(_Strict):
    """What one third-party parser may take in its sandboxed worker, per file."""

    max_memory: ByteSize = Field(default=1 * GiB, ge=256 * MiB)  # a worker needs ~80 MB to start
    timeout: float = Field(default=10.0, gt=0)


class DocumentRule(_Strict):
    formats: list[str] = ["DOC", "DOCX", "WPS", "PDF"]

    @field_validator("formats", mode="before")
    @classmethod
    def _known_formats(cls, value: object) -> object:
        return _format_names(value, ("document",))


class ArchiveLimits(_Strict):
    """Hard limits for a .zip, checked from its directory before anything is inflated."""

    max_members: int = Field(default=1000, ge=1)
    max_total_size: ByteSize = Field(default=4 * GiB, ge=1)
    max_ratio: float = Field(default=200.0, gt=1)


class Policy(_Strict):
    """The campaign's rules for photos, videos and documents (``policy:`` in config.yaml)."""

    # Made when a Policy is, not with this module: their format names are checked against the
    # validator's registry, which imports this module.
    photo: PhotoRule = Field(default_factory=lambda: PhotoRule(
        formats=["JPEG", "PNG", "PSD"], min_long_side=1920, min_short_side=1080))
    video: VideoRule = Field(default_factory=lambda: VideoRule(
        formats=["MP4", "MPG2", "AVI", "MTS"], min_long_side=1280, min_short_side=720))
    document: DocumentRule = DocumentRule()
    # The 2016 notice says videos "大于" 1280×720; the design card says "at least".
    inclusive: bool = True
    max_file_size: ByteSize = Field(default=4 * GiB, ge=1)
    # Above this many declared pixels an image is a decompression bomb and is never decoded.
    max_image_pixels: int = Field(default=200_000_000, ge=1)
    archive: ArchiveLimits = ArchiveLimits()
    probe: ProbeLimits = ProbeLimits()

    @field_validator("video", mode="before")
    @classmethod
    def _video_rule(cls, value: object) -> object:
        """A plain ``SizeRule`` (code written before videos had ``decode``) is taken with
        the default decode."""
        if isinstance(value, SizeRule) and not isinstance(value, VideoRule):
            return value.model_dump()
        return value

    @model_validator(mode="after")
    def _formats_of_their_kind(self) -> Policy:
        for key, rule in (("photo", self.photo), ("video", self.video)):
            known = known_formats(key)
            wrong = [name for name in rule.formats if name not in known]
            if wrong:
                raise ValueError(f"{key}.formats: {', '.join(wrong)} is not a {key} format; "
                                 f"expected some of {', '.join(known)}")
        return self

    def inclusive_for(self, rule: SizeRule) -> bool:
        """Whether a file exactly at ``rule``'s minimum passes."""
        return self.inclusive if rule.inclusive is None else rule.inclusive
