"""The board (``/``): one row per unit, filtered by status. Its table is the page's cost with
2,000 units, so each row's HTML and each filter's table are kept until the board changes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from safetymonth.web import views
from safetymonth.web.deps import Who, config, pool, render, templates

router = APIRouter(include_in_schema=False)


@router.get("/")
async def board(request: Request, who: Who, status: str = "") -> Response:
    settings = config(request)
    found = await pool(request).run(request.app.state.cache.board, settings)
    status = status if status in views.STATUS_LABELS else ""
    return render(request, "board.html", who, board=found,
                  table=_board_table(request, found, status), status=status,
                  labels=views.STATUS_LABELS, deadline=settings.campaign.deadline,
                  deadline_end=views.deadline_end(settings),
                  days_left=views.days_left(settings))


def _board_table(request: Request, found: views.Board, status: str) -> Markup:
    """The board's table, rendered once per board and filter: the same for every visitor,
    and most of the page's cost with 2,000 units."""
    tables: dict[str, tuple[views.Board, Markup]] = request.app.state.board_tables
    cached = tables.get(status)
    if cached is not None and cached[0] is found:
        return cached[1]
    rows = [html for row, html in _board_rows(request, found).items()
            if not status or row.status == status]
    table = Markup(templates.get_template("_board_table.html").render(rows=rows))
    tables[status] = (found, table)
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
