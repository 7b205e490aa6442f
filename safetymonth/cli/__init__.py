"""The ``safetymonth`` command: click commands only. Parse, call, print; no logic here.

One module per command group; importing them registers their commands on ``main`` (the
console script ``safetymonth.cli:main``).
"""

from safetymonth.cli import (  # noqa: F401  (each registers its commands on main)
    console,
    decisions,
    documents,
    intake,
    links,
    operations,
    report,
    validate,
)
from safetymonth.cli.group import main

__all__ = ["main"]
