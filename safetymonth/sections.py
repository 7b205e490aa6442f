"""What every section of ``config.yaml`` shares: strict models and byte sizes.

Its own module so that the sections defined beside the code they configure (deliverables,
groups, uploads) need not import ``config`` back.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

MiB = 1024 * 1024
GiB = 1024 * MiB


class Strict(BaseModel):
    """Base for every section: unknown keys are refused, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_size(value: object) -> object:
    """Accept ``4 GiB``, ``500 MB``, ``1024`` and plain integers for byte sizes."""
    if not isinstance(value, str):
        return value
    units = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": MiB,
             "gb": 1000**3, "gib": GiB}
    text = value.strip().lower().replace(" ", "")
    number = text.rstrip("kmgib")
    unit = text[len(number):]
    if unit not in units or not number.replace(".", "", 1).isdigit():
        raise ValueError(f"expected a size such as 500 MB or 4 GiB, got {value!r}")
    return int(float(number) * units[unit])


# A byte count that config.yaml may also write as "500 MB" or "4 GiB".
ByteSize = Annotated[int, BeforeValidator(parse_size)]
