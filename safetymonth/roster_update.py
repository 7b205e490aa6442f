"""A new roster in place of the old one: what it would change, and writing it.

A clerk uploads this year's sheet; before anything is replaced they see which units come and
go, which were renamed (the same 编号 under a new name keeps its history) and which addresses
are new, since a wrong sheet would move credit from one unit to another. The file is then
swapped in atomically with the old one kept beside it, so a mistake is undone by copying the
backup back.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from safetymonth.config import Unit
from safetymonth.fsync import fsync_directory


@dataclass(frozen=True)
class Renamed:
    id: str
    old: str
    new: str


@dataclass(frozen=True)
class Addresses:
    unit: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class Changes:
    added: list[str] = field(default_factory=list)  # unit names
    removed: list[str] = field(default_factory=list)
    renamed: list[Renamed] = field(default_factory=list)
    addresses: list[Addresses] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # units whose 所属/类别/负责人 changed

    @property
    def nothing(self) -> bool:
        return not (self.added or self.removed or self.renamed or self.addresses
                    or self.other)


def changes(old: Sequence[Unit], new: Sequence[Unit]) -> Changes:
    """What replacing ``old`` by ``new`` changes; units are the same unit by key (编号,
    else name), as the store knows them."""
    before = {unit.key: unit for unit in old}
    after = {unit.key: unit for unit in new}
    found = Changes(added=[unit.name for key, unit in after.items() if key not in before],
                    removed=[unit.name for key, unit in before.items() if key not in after])
    for key, unit in after.items():
        earlier = before.get(key)
        if earlier is None:
            continue
        if earlier.name != unit.name:
            found.renamed.append(Renamed(key, earlier.name, unit.name))
        added = tuple(email for email in unit.emails if email not in earlier.emails)
        removed = tuple(email for email in earlier.emails if email not in unit.emails)
        if added or removed:
            found.addresses.append(Addresses(unit.name, added, removed))
        if (earlier.group, earlier.category, earlier.leader) != \
                (unit.group, unit.category, unit.leader):
            found.other.append(unit.name)
    return found


def replace_roster(target: Path, data: bytes, now: datetime) -> Path:
    """Write ``data`` in place of the roster file ``target``, atomically (a temporary file
    beside it, flushed, then renamed over it); the old file is kept as
    ``NAME.YYYYmmdd-HHMMSS.bak.SUFFIX``. Returns the backup's path."""
    backup = target.with_name(f"{target.stem}.{now:%Y%m%d-%H%M%S}.bak{target.suffix}")
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if target.exists():
            shutil.copy2(target, backup)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_directory(target.parent)
    return backup
