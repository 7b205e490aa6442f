"""The board (``/``): one row per unit, filtered by status and by group, with a row per group
above the units for a user of every group. Its table is the page's cost with 2,000 units, so
each row's HTML and each filter's table are kept until the board changes. A user of one group
sees that group's units only (``?group=`` cannot widen it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from safetymonth.config import Config
from safetymonth.storage.overview import Overview
from safetymonth.storage.repository import Repository
from safetymonth.web import views
from safetymonth.web.auth import Visitor
from safetymonth.web.deps import Who, config, pool, render, templates
from safetymonth.web.group_rows import GroupRow, deliverable_names, group_rows, unit_keys
from safetymonth.web.scope import scope_of

router = APIRouter(include_in_schema=False)
UNCREDITED_LISTED = 10_000  # a group's uncredited mail is counted over this many at most


@router.get("/")
async def board(request: Request, who: Who, status: str = "", group: str = "") -> Response:
    settings = config(request)
    found = await pool(request).run(request.app.state.cache.board, settings)
    status = status if status in views.STATUS_LABELS else ""
    group = who.group or (group if any(known.id == group for known in settings.groups) else "")
    keys = unit_keys(settings, group) if group else None
    rows = [row for row in found.rows if keys is None or row.id in keys]
    counts = {key: sum(row.status == key for row in rows) for key in views.STATUS_LABELS}
    uncredited = found.uncredited if who.group is None \
        else await pool(request).run(_uncredited_of, request.app.state.cache, settings, who)
    days_left = views.days_left(settings)
    return render(request, "board.html", who, board=found, rows=len(rows), counts=counts,
                  uncredited=uncredited,
                  table=_board_table(request, found, status, group, keys), status=status,
                  group=group, groups=[] if who.group else _group_rows(request, found),
                  deliverable_names=deliverable_names(settings),
                  group_name=next((known.name for known in settings.groups
                                   if known.id == group), ""),
                  labels=views.STATUS_LABELS, deadline=settings.campaign.deadline,
                  deadline_end=views.deadline_end(settings), days_left=days_left)


def _uncredited_of(repository: Repository, cache: views.StoreCache, settings: Config,
                   who: Visitor) -> int:
    """Uncredited mail from the visitor's group's addresses, counted once per version of
    the store (the listing reads every message's credit)."""
    seen = scope_of(settings, who)
    return cache.get(repository, f"uncredited:{who.group}", lambda: sum(
        seen.message(record)
        for record in Overview(repository).uncredited(limit=UNCREDITED_LISTED)))


def _group_rows(request: Request, found: views.Board) -> list[GroupRow]:
    """The group rows, computed once per board and day."""
    day = views.today(config(request))
    board_of, rows = request.app.state.group_rows
    if board_of is found and rows[0] == day:
        return rows[1]  # type: ignore[no-any-return]
    computed = group_rows(config(request), found, day)
    request.app.state.group_rows = (found, (day, computed))
    return computed


def _board_table(request: Request, found: views.Board, status: str, group: str,
                 keys: frozenset[str] | None) -> Markup:
    """The board's table, rendered once per board and filter (status, group): the same for
    every visitor of that group, and most of the page's cost with 2,000 units."""
    tables: dict[tuple[str, str], tuple[views.Board, Markup]] = request.app.state.board_tables
    cached = tables.get((status, group))
    if cached is not None and cached[0] is found:
        return cached[1]
    rows = [html for row, html in _board_rows(request, found).items()
            if (not status or row.status == status) and (keys is None or row.id in keys)]
    table = Markup(templates.get_template("_board_table.html").render(rows=rows))
    tables[(status, group)] = (found, table)
    return table


def _board_rows(request: Request, found: views.Board) -> dict[views.BoardRow, Markup]:
    """Each row's HTML, in the board's order, rendered once per distinct row: while mail
    comes in, a message changes one unit's row and the other 1,999 are reused."""
    board_of, previous = request.app.state.board_rows
    if board_of is found:
        return previous  # type: ignore[no-any-return]
    render_row = templates.get_template("_board_row.html").module.board_row  # type: ignore[attr-defined]
    rows = {row: previous.get(row) or render_row(row) for row in found.rows}
    request.app.state.board_rows = (found, rows)
    return rows
