"""Which unit sent a message: its From address against ``units[].emails``."""

from __future__ import annotations

from safetymonth.config import Unit


def listing_units(address: str | None,
                  units: list[Unit]) -> tuple[Unit | None, Unit | None]:
    """The first unit listing this exact address, and the first listing its ``@domain``
    (the registry's order: the first unit listing an address gets it)."""
    if not address or "@" not in address:
        return None, None
    address = address.strip().lower()
    domain = "@" + address.rsplit("@", 1)[1]
    return (next((unit for unit in units if address in unit.emails), None),
            next((unit for unit in units if domain in unit.emails), None))


def match_unit(address: str | None, units: list[Unit]) -> Unit | None:
    """The unit listing this exact address, else the unit listing its ``@domain``."""
    exact, domain = listing_units(address, units)
    return exact or domain
