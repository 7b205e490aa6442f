"""The ``safetymonth`` command: click commands only. Parse, call, print; no logic here."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from safetymonth.config import Config, ConfigError, load_config
from safetymonth.service_user import become_store_owner
from safetymonth.storage.errors import StorageError, StorageFolderError

if TYPE_CHECKING:
    from safetymonth.storage.repository import Repository

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
              default=None, envvar="SAFETYMONTH_CONFIG",
              help="Config file (default: $SAFETYMONTH_CONFIG, ./config.yaml, built-in defaults).")
@click.version_option(package_name="safetymonth")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """Run a safety management month: check submissions, answer units, write documents."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def _config(ctx: click.Context) -> Config:
    config = load_config(ctx.obj["config_path"])
    become_store_owner(config, ctx.obj["config_path"], ctx.command_path)  # root: store's owner
    return config


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


def _log_to_stderr(config: Config) -> None:
    """INFO and up on stderr, stamped in the campaign's time zone (not the host's)."""
    import logging

    from safetymonth.zone import ZoneFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ZoneFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                       config.campaign.timezone))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


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

    With --once, exit 0 when done, 1 when the source failed or storage.dir is full, 2 for a
    usage or config error, 3 when replies stay queued because the outbox failed (the next run
    sends them).
    """
    from safetymonth.mailbox import service

    config = _config(ctx)
    _log_to_stderr(config)
    stop = service.stop_on_signals()
    if once:
        with _mail_server_errors(ctx):
            stats = service.poll_once(config, stop, retry_failed=retry_failed,
                                      new_database=new_database)
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
        with _mail_server_errors(ctx):  # a login refused again and again: one line, exit 1
            service.watch(config, stop, new_database=new_database)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None,
              help="Write the unit table to this CSV file (for Excel) instead of printing it.")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the unit table to this Excel file instead of printing it.")
@click.pass_context
def report(ctx: click.Context, as_json: bool, csv_path: Path | None,
           xlsx_path: Path | None) -> None:
    """Per-unit status: submissions, accepted and failed files, complete or not."""
    from safetymonth.report import build_report, format_report, write_clerk_csv, write_clerk_xlsx

    config = _config(ctx)
    zone = config.campaign.timezone
    result = build_report(config)
    try:
        if csv_path is not None:
            write_clerk_csv(result, csv_path, zone)
        if xlsx_path is not None:
            write_clerk_xlsx(result, xlsx_path, zone)
    except OSError as error:
        click.echo(f"safetymonth: cannot write {error.filename}: {error.strerror}", err=True)
        ctx.exit(EXIT_FAILED)
    written = [str(path) for path in (csv_path, xlsx_path) if path is not None]
    if written:  # the table is in the file: say where, not the whole table again
        click.echo(f"统计表已写入 {'、'.join(written)}", err=as_json)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    elif not written:
        click.echo(format_report(result, zone))


@main.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Show who would be reminded; queue nothing.")
@click.option("--overdue", is_flag=True,
              help="After the deadline, chase incomplete units (once per interval).")
@click.pass_context
def remind(ctx: click.Context, dry_run: bool, overdue: bool) -> None:
    """Queue a reminder to every incomplete unit (once per interval), then send the queue.

    Exit 3 when replies stay queued because the outbox failed (the next run sends them).
    """
    from safetymonth.mailbox.reminders import remind as queue_and_send

    config = _config(ctx)
    _log_to_stderr(config)
    with _mail_server_errors(ctx):
        result = queue_and_send(config, dry_run=dry_run, overdue=overdue)
    for plan in result.plans:
        click.echo(plan.describe(dry_run))
    if result.left:
        click.echo(f"safetymonth: {result.left} replies stay queued because the outbox "
                   "failed (see the lines above); the next run sends them", err=True)
        ctx.exit(EXIT_QUEUED)


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


# --- coordinators' decisions --------------------------------------------------------------


@contextlib.contextmanager
def _decisions(ctx: click.Context) -> Iterator[tuple[Config, Repository]]:
    """The config and the store for a decision command; a decision that cannot be made is
    one line and exit code 2."""
    from safetymonth.decisions import DecisionError
    from safetymonth.storage.repository import open_repository

    config = _config(ctx)
    try:
        with open_repository(config) as store:
            yield config, store
    except DecisionError as error:
        click.echo(f"safetymonth: {error}", err=True)
        ctx.exit(EXIT_USAGE)


def _print_rows(rows: list[dict[str, Any]], as_json: bool, columns: list[tuple[str, str]],
                zone: str) -> None:
    from safetymonth.decisions import table

    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif rows:
        click.echo(table(rows, columns, zone))


unit_option = click.option("--unit", "unit", default=None, metavar="UNIT",
                           help="Only this unit (its id or name).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
reason_option = click.option("--reason", required=True, help="Why (kept in the history).")
by_option = click.option("--by", "by", default=None, metavar="NAME",
                         help="Who decides (default: the OS user).")
notify_option = click.option("--notify", is_flag=True,
                             help="Queue and send a short reply to the unit saying so.")


@main.command()
@config_option
@unit_option
@json_option
@click.pass_context
def messages(ctx: click.Context, unit: str | None, as_json: bool) -> None:
    """Every message received, with the unit it is credited to now."""
    from safetymonth.decisions import message_rows

    with _decisions(ctx) as (config, store):
        _print_rows(message_rows(config, store, unit), as_json, [
            ("id", "编号"), ("received", "收到时间"), ("sender", "发件人"), ("unit", "单位"),
            ("credited_by", "计入依据"), ("files", "文件"), ("subject", "主题")],
            config.campaign.timezone)


@main.command()
@config_option
@unit_option
@click.option("--failed", is_flag=True, help="Only files not accepted now.")
@json_option
@click.pass_context
def files(ctx: click.Context, unit: str | None, failed: bool, as_json: bool) -> None:
    """Every checked file (zip members each on their own): verdict and decision."""
    from safetymonth.decisions import file_rows

    with _decisions(ctx) as (config, store):
        _print_rows(file_rows(config, store, unit, failed), as_json, [
            ("id", "编号"), ("message", "邮件"), ("unit", "单位"), ("name", "文件名"),
            ("kind", "类型"), ("verdict_ok", "检测合格"), ("ok", "认定合格"),
            ("decision", "决定"), ("reason", "理由")], config.campaign.timezone)


@main.command()
@config_option
@click.argument("message", metavar="MESSAGE")
@click.option("--unit", "unit", required=True, metavar="UNIT", help="The unit's id or name.")
@reason_option
@by_option
@notify_option
@click.pass_context
def credit(ctx: click.Context, message: str, unit: str, reason: str, by: str | None,
           notify: bool) -> None:
    """Credit MESSAGE (its id or Message-ID) to a unit."""
    from safetymonth import decisions

    with _decisions(ctx) as (config, store):
        record = decisions.credit(config, store, message, unit, reason,
                                  decisions.decided_by(by), notify)
        _after_decision(ctx, config, store, record, notify)


@main.command()
@config_option
@click.argument("message", metavar="MESSAGE")
@reason_option
@by_option
@click.pass_context
def dismiss(ctx: click.Context, message: str, reason: str, by: str | None) -> None:
    """Put aside MESSAGE (its id or Message-ID), mail that is no submission: it leaves the
    mail credited to no unit (已处理); `undo` brings it back."""
    from safetymonth import decisions

    with _decisions(ctx) as (config, store):
        record = decisions.dismiss(config, store, message, reason, decisions.decided_by(by))
        click.echo(decisions.describe(record, decisions.unit_names(config), {}))


def _judgement_command(action: str, summary: str) -> None:
    """Register ``accept`` or ``reject``: one command for either judgement of a file."""

    @main.command(name=action, help=summary)
    @config_option
    @click.argument("file", metavar="FILE")
    @reason_option
    @by_option
    @notify_option
    @click.pass_context
    def command(ctx: click.Context, file: str, reason: str, by: str | None,
                notify: bool) -> None:
        from safetymonth import decisions

        with _decisions(ctx) as (config, store):
            record = getattr(decisions, action)(config, store, file, reason,
                                                decisions.decided_by(by), notify)
            _after_decision(ctx, config, store, record, notify)


_judgement_command("accept", "Count FILE (its id from `files`) as accepted, whatever the "
                             "validator said.")
_judgement_command("reject", "Count FILE (its id from `files`) as failed, whatever the "
                             "validator said.")


@main.command()
@config_option
@click.option("--unit", "unit", required=True, metavar="UNIT", help="The unit's id or name.")
@reason_option
@by_option
@notify_option
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.pass_context
def add(ctx: click.Context, unit: str, reason: str, by: str | None, notify: bool,
        paths: tuple[Path, ...]) -> None:
    """Add files received outside mail: stored, checked and credited to the unit."""
    from safetymonth import decisions

    with _decisions(ctx) as (config, store):
        record, added = decisions.add(config, store, unit, reason, decisions.decided_by(by),
                                      list(paths), notify)
        for view in added:
            click.echo(f"文件 {view.id}：{view.name} {'合格' if view.ok else '不合格'}")
        _after_decision(ctx, config, store, record, notify)


@main.command()
@config_option
@json_option
@click.pass_context
def history(ctx: click.Context, as_json: bool) -> None:
    """Every decision: who, when, why; undone ones too."""
    from safetymonth.decisions import history_rows, history_table_rows

    with _decisions(ctx) as (config, store):
        rows = history_rows(config, store) if as_json else history_table_rows(config, store)
        _print_rows(rows, as_json, [
            ("id", "编号"), ("at", "时间"), ("action", "决定"), ("target", "对象"),
            ("unit", "单位"), ("by", "决定人"), ("reason", "理由"), ("undone_at", "撤销时间")],
            config.campaign.timezone)


@main.command()
@config_option
@click.argument("decision", type=int)
@by_option
@click.pass_context
def undo(ctx: click.Context, decision: int, by: str | None) -> None:
    """Undo DECISION (its id from `history`): everything is as before it."""
    from safetymonth import decisions

    with _decisions(ctx) as (config, store):
        record = decisions.undo(store, decision, decisions.decided_by(by))
        click.echo(decisions.describe(record, decisions.unit_names(config),
                                      decisions.file_names(store, [record])))


def _after_decision(ctx: click.Context, config: Config, store: Repository, record: Any,
                    notify: bool) -> None:
    from safetymonth.decisions import describe, file_names, unit_names
    from safetymonth.mailbox.service import send_queued

    click.echo(describe(record, unit_names(config), file_names(store, [record])))
    if notify:
        _log_to_stderr(config)
        with _mail_server_errors(ctx):
            send_queued(config, store)


@main.command()
@config_option
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@unit_option
@click.option("--accepted-only", is_flag=True, help="Only files accepted after decisions.")
@click.pass_context
def export(ctx: click.Context, folder: Path, unit: str | None, accepted_only: bool) -> None:
    """Write the units' files into DIR/<unit name>/ and the list into DIR/清单.xlsx."""
    from safetymonth.export import ExportError, export_files

    with _decisions(ctx) as (config, store):
        try:
            result = export_files(config, store, folder, unit, accepted_only)
        except ExportError as error:
            click.echo(f"safetymonth: {error}", err=True)
            ctx.exit(EXIT_FAILED)
        skipped = f", {result.skipped} unsafe zip members left out" if result.skipped else ""
        click.echo(f"{result.files} files in {folder}{skipped}; list: {result.manifest}")


# --- the console: serve, user ---------------------------------------------------------------


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (only this machine by default; see README for nginx).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Run the coordinators' web console."""
    import uvicorn

    from safetymonth.web.app import create_app

    config = _config(ctx)
    os.umask(0o077)  # documents, PDFs and previews it writes under storage.dir: owner-only
    # Proxy headers from a local nginx only: X-Forwarded-Proto marks TLS (Secure cookies),
    # X-Forwarded-For gives the address that login throttling counts.
    uvicorn.run(create_app(config), host=host, port=port, proxy_headers=True,
                forwarded_allow_ips="127.0.0.1", server_header=False, log_level="info")


@main.group(cls=_Group)
def user() -> None:
    """The console's users: add, list, remove, passwd."""


@contextlib.contextmanager
def _user_errors(ctx: click.Context) -> Iterator[None]:
    from safetymonth.web.users import UserError

    try:
        yield
    except UserError as error:
        click.echo(f"safetymonth: {error}", err=True)
        ctx.exit(EXIT_FAILED)


@user.command("add")
@config_option
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "coordinator", "viewer"]))
@click.pass_context
def user_add(ctx: click.Context, name: str, role: str) -> None:
    """Add a user; the password is the first line of stdin (a second line may repeat it)."""
    from safetymonth.web import users

    with _user_errors(ctx):
        users.add_user(_config(ctx), name, role, users.password_from_lines(sys.stdin.read()))
    click.echo(f"user {name} added ({role})")


@user.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List the users and their roles."""
    from safetymonth.report import local_time
    from safetymonth.web import users

    found = users.list_users(_config(ctx))
    if as_json:
        click.echo(json.dumps([{"name": item.name, "role": item.role,
                                "created_at": item.created_at} for item in found],
                              ensure_ascii=False, indent=2))
    zone = _config(ctx).campaign.timezone
    for item in [] if as_json else found:
        click.echo(f"{item.name}\t{item.role}\t{local_time(item.created_at, zone)}")


@user.command("remove")
@config_option
@click.argument("name")
@click.pass_context
def user_remove(ctx: click.Context, name: str) -> None:
    """Remove a user; their sessions end at once."""
    from safetymonth.web import users

    with _user_errors(ctx):
        users.remove_user(_config(ctx), name)
    click.echo(f"user {name} removed")


@user.command("passwd")
@config_option
@click.argument("name")
@click.pass_context
def user_passwd(ctx: click.Context, name: str) -> None:
    """Set a new password from stdin (as for add); the user's sessions end."""
    from safetymonth.web import users

    with _user_errors(ctx):
        users.change_password(_config(ctx), name, users.password_from_lines(sys.stdin.read()))
    click.echo(f"password of {name} changed")


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
    from safetymonth.operations import verify_store

    problems = verify_store(_config(ctx), repair=repair)
    for problem in problems:
        click.echo(problem.describe())
    left = [problem for problem in problems if not problem.repaired]
    click.echo(f"发现 {len(problems)} 个问题，已修复 {len(problems) - len(left)} 个"
               if problems else "所有存储的文件齐全且完好", err=True)
    ctx.exit(EXIT_FAILED if left else EXIT_OK)
