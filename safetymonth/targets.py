"""Whom mail can be credited to: the units, then the groups with addresses of their own.

A group's own address (``groups[].emails``, a 乡镇's 民政办) is credited to the group, for its
``owed_by: group`` deliverables, by the one credit rule of :mod:`safetymonth.crediting`: the
group enters the registry after the units as one more target, keyed :func:`group_key` (no
unit's key starts so), so intake's triage and the store's credit columns agree on it, and a
unit listing the same address keeps it (the first listing an address gets it).
"""

from __future__ import annotations

from safetymonth.config import Config, Unit

GROUP_PREFIX = "group:"


def group_key(group: str) -> str:
    """The key a group's own mail is credited to."""
    return GROUP_PREFIX + group


def group_of_key(key: str | None) -> str | None:
    """The group id of a group's key, else None (a unit's key, or nobody)."""
    return key[len(GROUP_PREFIX):] if key and key.startswith(GROUP_PREFIX) else None


def credit_targets(config: Config) -> list[Unit]:
    """The units, then each group with addresses as a target keyed :func:`group_key`."""
    return [*config.units, *(Unit(name=group.name, id=group_key(group.id), emails=group.emails)
                             for group in config.groups if group.emails)]
