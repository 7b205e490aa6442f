"""What a campaign owes: deliverables, each with its kinds, count, deadline and match words.

``campaign.deliverables`` in ``config.yaml``; ``completion:`` stays a shorthand for three
deliverables (one per kind), so configs written before deliverables keep working.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, Protocol

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


# The names today's replies and report give the three kinds of ``completion:``.
SHORTHAND = (("documents", "活动总结", "document"), ("photos", "照片", "photo"),
             ("videos", "视频", "video"))


class HasDeliverables(Protocol):
    """What :func:`deliverables_of` reads of a campaign (``config.Campaign``)."""

    deadline: date
    deliverables: list[Deliverable] | None

    @property
    def completion(self) -> Any: ...


def deliverables_of(campaign: HasDeliverables) -> list[Deliverable]:
    """What ``campaign`` owes: its configured deliverables, else the three of
    ``completion:`` (a kind whose count is 0 is owed by nobody), each a catch-all of its kind
    due on the campaign's deadline, so that a config written before deliverables judges
    completion as it always did."""
    if campaign.deliverables is not None:
        return list(campaign.deliverables)
    return [Deliverable(id=ident, name=name, kind=kind,  # type: ignore[arg-type]
                        count=getattr(campaign.completion, ident))
            for ident, name, kind in SHORTHAND if getattr(campaign.completion, ident) > 0]


def deadline_of(deliverable: Deliverable, campaign: HasDeliverables) -> date:
    """The day ``deliverable`` is due: its own deadline, else the campaign's."""
    return deliverable.deadline or campaign.deadline


def problems(deliverables: list[Deliverable]) -> list[str]:
    """What is wrong with a list of deliverables, one sentence each (empty: nothing).

    The rules: ids are unique; a deliverable names each kind once; and a kind has at most one
    catch-all (a deliverable without ``match``), since the file-assignment rule gives every
    unmatched file of a kind to the first catch-all taking it, and a second one could then only
    ever be filled by hand (``safetymonth assign``)."""
    found = []
    ids = [item.id for item in deliverables]
    repeated = sorted({ident for ident in ids if ids.count(ident) > 1})
    if repeated:
        found.append(f"the same id twice: {', '.join(repeated)}")
    for item in deliverables:
        if not item.kinds or len(set(item.kinds)) != len(item.kinds):
            found.append(f"{item.id}: kind must name photo, video or document, each once")
        if any(not word.strip() for word in item.match):
            found.append(f"{item.id}: match: an empty word would match every file")
    for kind in ("document", "photo", "video"):
        catch_all = [item.id for item in deliverables if kind in item.kinds and not item.match]
        if len(catch_all) > 1:
            found.append(f"more than one {kind} deliverable without match words "
                         f"({', '.join(catch_all)}): at most one may take every other {kind}")
    return found
