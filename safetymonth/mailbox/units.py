"""Which unit sent a message: its From address against ``units[].emails``."""

from __future__ import annotations

from safetymonth.config import Unit


def match_unit(address: str | None, units: list[Unit]) -> Unit | None:
    """The unit listing this exact address, else the unit listing its ``@domain``."""
    if not address or "@" not in address:
        return None
    address = address.strip().lower()
    domain = "@" + address.rsplit("@", 1)[1]
    for unit in units:
        if address in unit.emails:
            return unit
    for unit in units:
        if domain in unit.emails:
            return unit
    return None
