"""``poll`` and ``remind``: the mail going in and the reminders going out."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from safetymonth.cli.group import EXIT_FAILED, EXIT_QUEUED, main
from safetymonth.cli.options import config_of, config_option
from safetymonth.cli.runtime import log_to_stderr, mail_server_errors


@main.command()
@config_option
@click.option("--once", is_flag=True, help="Process what is new, send replies, then exit.")
@click.option("--retry-failed", is_flag=True, help="Put messages marked failed back in the queue.")
@click.option("--new-database", is_flag=True,
              help="Start a new database although storage.dir holds messages (the old one is "
                   "lost and no backup is at hand).")
@click.pass_context
def poll(ctx: click.Context, once: bool, retry_failed: bool, new_database: bool) -> None:
    """Read new mail from mailbox.source, check it, and reply through mailbox.outbox.

    With --once, exit 0 when done, 1 when the source failed, a worker process of a shared
    poll died or storage.dir is full, 2 for a usage or config error, 3 when replies stay
    queued because the outbox failed (the next run sends them).
    """
    from safetymonth.mailbox import service
    from safetymonth.mailbox.sharing import WorkerFailed

    config = config_of(ctx)
    log_to_stderr(config)
    stop = service.stop_on_signals()
    if once:
        with mail_server_errors(ctx), shared_progress() as progress:
            try:
                stats = service.poll_once(config, stop, retry_failed=retry_failed,
                                          new_database=new_database, progress=progress)
            except WorkerFailed as error:  # the messages it held wait for the next poll
                click.echo(f"safetymonth: {error}", err=True)
                ctx.exit(EXIT_FAILED)
        click.echo(f"processed {stats.processed}, duplicates {stats.duplicates}, "
                   f"failed {stats.failed}, too large {stats.too_large}", err=True)
        if stats.disk_full:  # the line above says which message waits for space
            ctx.exit(EXIT_FAILED)
        if stats.replies_left:
            click.echo(f"safetymonth: {stats.replies_left} replies stay queued because the "
                       f"outbox failed (see the lines above); the next poll sends them",
                       err=True)
            ctx.exit(EXIT_QUEUED)
    else:
        with mail_server_errors(ctx):  # a login refused again and again: one line, exit 1
            service.watch(config, stop, new_database=new_database)


@contextlib.contextmanager
def shared_progress() -> Iterator[Callable[[int, int], None] | None]:
    """One progress bar on a terminal over the messages every worker of a shared poll has
    marked (see :mod:`safetymonth.mailbox.sharing`); else nothing."""
    if not sys.stderr.isatty():
        yield None
        return
    bars: list[Any] = []

    def show(done: int, total: int) -> None:
        if not bars:
            bars.append(click.progressbar(length=total, label="poll", file=sys.stderr))
            bars[0].__enter__()
        bars[0].update(done - bars[0].pos)

    try:
        yield show
    finally:
        if bars:
            bars[0].__exit__(None, None, None)


@main.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Show who would be reminded; queue nothing.")
@click.option("--overdue", is_flag=True,
              help="After the deadline, chase incomplete units (once per interval). With "
                   "campaign.deliverables, campaign.reminders already chases overdue ones.")
@click.pass_context
def remind(ctx: click.Context, dry_run: bool, overdue: bool) -> None:
    """Queue a reminder to every incomplete unit (once per interval), then send the queue.

    Exit 3 when replies stay queued because the outbox failed (the next run sends them).
    """
    from safetymonth.mailbox.reminders import remind as queue_and_send

    config = config_of(ctx)
    log_to_stderr(config)
    if overdue and config.campaign.deliverables is not None:
        click.echo("safetymonth: 已配置 campaign.deliverables，逾期催报按 campaign.reminders 的"
                   "overdue_every_days 自动进行，--overdue 无需指定", err=True)
    with mail_server_errors(ctx):
        result = queue_and_send(config, dry_run=dry_run, overdue=overdue)
    for plan in result.plans:
        click.echo(plan.describe(dry_run))
    if result.left:
        click.echo(f"safetymonth: {result.left} replies stay queued because the outbox "
                   "failed (see the lines above); the next run sends them", err=True)
        ctx.exit(EXIT_QUEUED)
