"""What a campaign owes: deliverables, each with its kinds, count, deadline and match words.

``campaign.deliverables`` in ``config.yaml``; ``completion:`` stays a shorthand for three
deliverables (one per kind), so configs written before deliverables keep working.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from safetymonth.sections import Strict

Kind = Literal["photo", "video", "document"]


class Deliverable(Strict):
    # Stable across renames: decisions and the store name a deliverable by its id.
    id: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str = Field(min_length=1)
    kind: Kind | list[Kind]
    count: int = Field(default=1, ge=1)
    # None: the campaign's deadline.
    deadline: date | None = None
    # group: one per group, from any of its units (the Dehua 经验做法 from every 乡镇).
    owed_by: Literal["unit", "group"] = "unit"
    # Words in the file name (then the mail subject) that mark a file as this deliverable.
    match: list[str] = []

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return (self.kind,) if isinstance(self.kind, str) else tuple(self.kind)


class Reminders(Strict):
    """When reminders go: days before each deadline, then every so many days while overdue."""

    days_before: list[int] = [3, 1]
    overdue_every_days: float = Field(default=2.0, gt=0)
