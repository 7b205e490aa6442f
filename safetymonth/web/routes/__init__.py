"""The console's HTML routes, one module per resource (as Datasette's ``views/``): what needs
no login, logging in, the board, the units, files, decisions, reminders, exports and
documents; and a unit's own page by its upload link with its tus endpoint. :data:`ROUTERS`
is the order ``app.py`` includes them in (a path matched by two routes goes to the first)."""

from __future__ import annotations

from fastapi import APIRouter

from safetymonth.web.routes import (
    auth,
    board,
    decisions,
    documents,
    exports,
    files,
    links,
    reminders,
    roster,
    site,
    tus,
    unit_page,
    units,
)

ROUTERS: list[APIRouter] = [site.router, auth.router, board.router, links.router,
                            units.router, files.router,
                            decisions.router, reminders.router, exports.router,
                            documents.router, roster.router, unit_page.router, tus.router]
