"""The ``web:`` and ``uploads:`` sections of ``config.yaml``."""

from __future__ import annotations

from pydantic import Field

from safetymonth.sections import ByteSize, GiB, Strict


class Web(Strict):
    # How units reach the console; upload links are built on it. None: http://127.0.0.1:8000.
    public_url: str | None = None


class Uploads(Strict):
    link_days: int = Field(default=60, ge=1)
    # Per unit, finished and unfinished uploads together.
    quota: ByteSize = Field(default=20 * GiB, ge=1)
    incomplete_hours: float = Field(default=24.0, gt=0)
    # Mail the verdict of each finished upload to the unit's registered addresses.
    receipt: bool = True
