"""The level between the bureau and its institutions: a 乡镇 or a district bureau.

``groups:`` in ``config.yaml``; each unit names its group (``units[].group`` or the roster's
所属 column). Mail from a group's own address counts for the group's deliverables.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from safetymonth.sections import Strict


class Group(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1)
    emails: list[str] = []

    @field_validator("emails")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [address.strip().lower() for address in value]
