"""Running the service: ``check`` the setup, ``backup`` the store, ``verify`` its files."""

from __future__ import annotations

from pathlib import Path

import click

from safetymonth.cli.group import EXIT_FAILED, EXIT_OK, main
from safetymonth.cli.options import config_of, config_option
from safetymonth.cli.runtime import progress
from safetymonth.config import ConfigError


@main.command()
@config_option
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check the setup: config, storage.dir, database, source, outbox, LibreOffice.

    One line per check; exit 0 when all pass, 1 otherwise.
    """
    from safetymonth.checkup import Check, run_checks

    try:
        config = config_of(ctx)
    except ConfigError as error:
        click.echo(Check("config", False, " ".join(str(error).split())).line())
        ctx.exit(EXIT_FAILED)
    click.echo(Check("config", True, "loaded").line())
    failed = 0
    for result in run_checks(config):
        click.echo(result.line())
        failed += not result.ok
    ctx.exit(EXIT_FAILED if failed else EXIT_OK)


@main.command()
@config_option
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def backup(ctx: click.Context, dest: Path) -> None:
    """Copy the store to DEST (a new folder) while poll may run: the database, then the files.

    DEST is a storage.dir of its own. Exit 1 when the PostgreSQL database still has to be
    dumped by hand (pg_dump not found: the line says the command).
    """
    from safetymonth.storage.backup import back_up

    config = config_of(ctx)
    result = back_up(config.storage_dir, config.database_url, config.storage.password(), dest,
                     progress=lambda total: progress(total, "files"))
    click.echo(result.database)
    click.echo(f"{result.files} files copied to {dest}")
    ctx.exit(EXIT_OK if result.complete else EXIT_FAILED)


@main.command()
@config_option
@click.option("--repair", is_flag=True,
              help="Derive missing or wrong attachment files again from their raw mail.")
@click.pass_context
def verify(ctx: click.Context, repair: bool) -> None:
    """Check that every record's raw mail and files are present with the right SHA-256.

    Exit 0 when all are (or, with --repair, all were repaired), 1 otherwise.
    """
    from safetymonth.operations import verify_store

    problems = verify_store(config_of(ctx), repair=repair)
    for problem in problems:
        click.echo(problem.describe())
    left = [problem for problem in problems if not problem.repaired]
    click.echo(f"发现 {len(problems)} 个问题，已修复 {len(problems) - len(left)} 个"
               if problems else "所有存储的文件齐全且完好", err=True)
    ctx.exit(EXIT_FAILED if left else EXIT_OK)
