"""The ``safetymonth`` command: click commands only. Parse, call, print; no logic here."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from safetymonth.config import Config, ConfigError, load_config
from safetymonth.storage.errors import StorageError, StorageFolderError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_QUEUED = 0, 1, 2, 3


class _Group(click.Group):
    """Turns a config error anywhere into a one-line message and exit code 2, and a storage
    folder that is not safe to use into one line (what to run to fix it) and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            click.echo(f"safetymonth: configuration error:\n{error}", err=True)
            ctx.exit(EXIT_USAGE)
        except StorageFolderError as error:
            click.echo(f"safetymonth: storage.dir refused: {error}", err=True)
            ctx.exit(EXIT_FAILED)
        except StorageError as error:
            click.echo(f"safetymonth: {error}", err=True)
            ctx.exit(EXIT_FAILED)


@click.group(cls=_Group)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Config file (default: ./config.yaml, else built-in defaults).")
@click.version_option(package_name="safetymonth")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """Run a safety management month: check submissions, answer units, write documents."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def _config(ctx: click.Context) -> Config:
    return load_config(ctx.obj["config_path"])


def _remember_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["config_path"] = value


# ``--config`` is accepted after the command name too: ``safetymonth report --config f.yaml``.
config_option = click.option(
    "--config", type=click.Path(dir_okay=False, path_type=Path), default=None,
    expose_value=False, callback=_remember_config, help="Config file (as before the command).")


@contextlib.contextmanager
def _mail_server_errors(ctx: click.Context) -> Iterator[None]:
    """A mail server that cannot be reached or refuses us: one line and exit code 1, not a
    traceback (``poll`` without ``--once`` retries such errors itself)."""
    from safetymonth.mailbox.service import NETWORK_ERRORS

    try:
        yield
    except NETWORK_ERRORS as error:
        click.echo(f"safetymonth: mail server: {error}", err=True)
        ctx.exit(EXIT_FAILED)


@main.command()
@config_option
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array of verdicts.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0,
              help="Worker processes (0: one per core).")
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...], as_json: bool, jobs: int) -> None:
    """Check photos, videos, documents and .zip archives against the policy."""
    from safetymonth.validator.batch import format_table, validate_paths

    config = _config(ctx)
    show_progress = not as_json and sys.stderr.isatty()
    verdicts = validate_paths(paths, config.policy, jobs=jobs, progress=show_progress)
    if as_json:
        click.echo(json.dumps([v.to_dict() for v in verdicts], ensure_ascii=False, indent=2))
    elif verdicts:
        click.echo(format_table(verdicts))
    if not verdicts:  # nothing checked is not "all passed": most likely a wrong folder
        click.echo(f"safetymonth: no files found in {', '.join(map(str, paths))}", err=True)
        ctx.exit(EXIT_USAGE)
    ctx.exit(EXIT_OK if all(v.ok for v in verdicts) else EXIT_FAILED)


# --- intake: poll, report, remind ---------------------------------------------------------


def _log_to_stderr() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


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

    With --once, exit 0 when done, 1 when the source failed, 2 for a usage or config error,
    3 when replies stay queued because the outbox failed (the next run sends them).
    """
    from safetymonth.mailbox import service

    config = _config(ctx)
    _log_to_stderr()
    stop = service.stop_on_signals()
    if once:
        with _mail_server_errors(ctx):
            stats = service.poll_once(config, stop, retry_failed=retry_failed,
                                      new_database=new_database)
        click.echo(f"processed {stats.processed}, duplicates {stats.duplicates}, "
                   f"failed {stats.failed}, too large {stats.too_large}", err=True)
        if stats.replies_left:
            click.echo(f"safetymonth: {stats.replies_left} replies stay queued because the "
                       f"outbox failed (see the lines above); the next poll sends them",
                       err=True)
            ctx.exit(EXIT_QUEUED)
    else:
        service.watch(config, stop, new_database=new_database)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the unit table to this CSV file.")
@click.pass_context
def report(ctx: click.Context, as_json: bool, csv_path: Path | None) -> None:
    """Per-unit status: submissions, accepted and failed files, complete or not."""
    from safetymonth.report import build_report, format_report, write_csv

    result = build_report(_config(ctx))
    if csv_path is not None:
        write_csv(result, csv_path)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(result))


@main.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Show who would be reminded; queue nothing.")
@click.pass_context
def remind(ctx: click.Context, dry_run: bool) -> None:
    """Queue a reminder to every incomplete unit (once per interval), then send the queue."""
    from safetymonth.mailbox.reminders import queue_reminders
    from safetymonth.mailbox.service import send_queued
    from safetymonth.storage.repository import open_repository

    config = _config(ctx)
    _log_to_stderr()
    with open_repository(config) as store, _mail_server_errors(ctx):
        for plan in queue_reminders(config, store, dry_run=dry_run):
            action = f"skipped: {plan.skipped}" if plan.skipped else \
                ("would remind" if dry_run else "reminded")
            click.echo(f"{plan.unit}: {action} {', '.join(plan.recipients)} "
                       f"(missing {'、'.join(plan.missing)})")
        if not dry_run:
            send_queued(config, store)


@main.command()
@config_option
@click.argument("kind", type=click.Choice(["notice", "letter", "summary"]))
@click.argument("data_path", metavar="DATA.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path),
              help="The .docx (notice, summary) or the folder (letter: one file per unit).")
@click.option("--pdf", "with_pdf", is_flag=True, help="Also export PDFs through LibreOffice.")
@click.option("--combined", is_flag=True,
              help="Letters: also one PDF of them all, in roster order, for printing "
                   "(double-sided unless docgen.imprint_on_even_page is false).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0,
              help="Worker processes for letters (0: one per core).")
@click.pass_context
def generate(ctx: click.Context, kind: str, data_path: Path, out: Path, with_pdf: bool,
             combined: bool, jobs: int) -> None:
    """Write a notice, the responsibility letters or the summary in GB/T 9704-2012 layout.

    Exit 2 for bad data, templates or templates_dir; exit 1 when an output file or a PDF
    cannot be written.
    """
    from safetymonth import docgen
    from safetymonth.report import intake_rows

    config = _config(ctx)
    templates = config.docgen.templates_dir
    try:
        options = docgen.Options(docgen.Faces.from_overrides(config.docgen.fonts),
                                 config.docgen.imprint_on_even_page)
        data = docgen.load(data_path, kind)
        rows = intake_rows(config) if getattr(data, "intake", False) else []
        with _progress(len(getattr(data, "units", ())), "letters") as advance:
            paths = docgen.generate(data, out, templates and config.resolve(templates),
                                    intake_rows=rows, jobs=jobs, on_done=advance,
                                    options=options)
    except docgen.OutputError as error:
        click.echo(f"safetymonth: {error}", err=True)
        ctx.exit(EXIT_FAILED)
    except docgen.DocgenError as error:
        click.echo(f"safetymonth: {error}", err=True)
        ctx.exit(EXIT_USAGE)
    click.echo(paths[0] if len(paths) == 1 else f"{len(paths)} files in {out}")
    if with_pdf or (combined and kind == "letter"):
        try:
            pdfs = docgen.to_pdf(paths)
            if combined and kind == "letter":
                click.echo(docgen.unite(pdfs, out / docgen.COMBINED_NAME,
                                        config.docgen.imprint_on_even_page))
        except (docgen.PdfError, OSError) as error:
            click.echo(f"safetymonth: PDF export failed: {error}", err=True)
            ctx.exit(EXIT_FAILED)
        click.echo(pdfs[0] if len(pdfs) == 1 else f"{len(pdfs)} PDF files in {out}")


@contextlib.contextmanager
def _progress(length: int, label: str) -> Iterator[Callable[[object], None]]:
    """A progress bar on stderr for long batches on a terminal; else a no-op callback."""
    if length < 2 or not sys.stderr.isatty():
        yield lambda _done: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield lambda _done: bar.update(1)


# --- operations: check, backup, verify ----------------------------------------------------


@main.command()
@config_option
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check the setup: config, storage.dir, database, source, outbox, LibreOffice.

    One line per check; exit 0 when all pass, 1 otherwise.
    """
    from safetymonth.checkup import Check, run_checks

    try:
        config = _config(ctx)
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

    config = _config(ctx)
    result = back_up(config.storage_dir, config.database_url, config.storage.password(), dest,
                     progress=lambda total: _progress(total, "files"))
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
    from safetymonth.operations import verify as verify_store
    from safetymonth.storage.repository import open_repository

    with open_repository(_config(ctx)) as store:
        problems = verify_store(store, repair=repair)
    for problem in problems:
        click.echo(problem.describe())
    left = [problem for problem in problems if not problem.repaired]
    click.echo(f"{len(problems)} problems, {len(problems) - len(left)} repaired"
               if problems else "all stored files present and intact", err=True)
    ctx.exit(EXIT_FAILED if left else EXIT_OK)
