"""催报: who would be reminded (and who is skipped, and why), then, on confirmation, the
reminders queued in the outbox. The request never talks to the mail server: the ``poll``
watcher sends what is queued within seconds (and keeps it queued through an outage), so a
slow or absent SMTP server never holds up or fails the page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from safetymonth.config import Config
from safetymonth.mailbox.reminders import Planned, plan_reminders, queue_reminders
from safetymonth.storage.repository import Repository
from safetymonth.web.deps import CheckedForm, Decider, Who, config, pool, render
from safetymonth.web.routes.common import scope
from safetymonth.zone import now_in

router = APIRouter(include_in_schema=False)


def _planned(repository: Repository, settings: Config) -> list[Planned]:
    return plan_reminders(settings, repository, now_in(settings.campaign.timezone).date())


def _queued(repository: Repository, settings: Config) -> list[Planned]:
    return queue_reminders(settings, repository)


@router.get("/remind")
async def remind_preview(request: Request, who: Who) -> Response:
    plans = await pool(request).run(_planned, scope(request, who).config(config(request)))
    return render(request, "remind.html", who, plans=plans, queued=False)


@router.post("/remind")
async def remind(request: Request, who: Decider, _form: CheckedForm) -> Response:
    """Queue the due reminders (a group's user: to its units only); the page says they are
    queued, not sent."""
    plans = await pool(request).run(_queued, scope(request, who).config(config(request)))
    return render(request, "remind.html", who, plans=plans, queued=True)
