"""What commands that run for a while share: log lines, mail server errors, progress bars."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import click

from safetymonth.cli.group import EXIT_FAILED
from safetymonth.config import Config


def log_to_stderr(config: Config) -> None:
    """INFO and up on stderr, stamped in the campaign's time zone (not the host's)."""
    import logging

    from safetymonth.zone import ZoneFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ZoneFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                       config.campaign.timezone))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


@contextlib.contextmanager
def mail_server_errors(ctx: click.Context) -> Iterator[None]:
    """A mail server that cannot be reached or refuses us: one line and exit code 1, not a
    traceback (``poll`` without ``--once`` retries such errors itself)."""
    from safetymonth.mailbox.service import NETWORK_ERRORS

    try:
        yield
    except NETWORK_ERRORS as error:
        click.echo(f"safetymonth: mail server: {error}", err=True)
        ctx.exit(EXIT_FAILED)


@contextlib.contextmanager
def progress(length: int, label: str) -> Iterator[Callable[[object], None]]:
    """A progress bar on stderr for long batches on a terminal; else a no-op callback."""
    if length < 2 or not sys.stderr.isatty():
        yield lambda _done: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield lambda _done: bar.update(1)
