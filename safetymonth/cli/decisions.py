"""The coordinators' decisions: list messages, files and history; credit, dismiss, accept,
reject, add, assign and undo."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from safetymonth.cli.group import EXIT_USAGE, main
from safetymonth.cli.options import (
    by_option,
    config_of,
    config_option,
    json_option,
    notify_option,
    reason_option,
    unit_option,
)
from safetymonth.cli.runtime import log_to_stderr, mail_server_errors
from safetymonth.config import Config

if TYPE_CHECKING:
    from safetymonth.storage.repository import Repository


@contextlib.contextmanager
def decision_store(ctx: click.Context) -> Iterator[tuple[Config, Repository]]:
    """The config and the store for a decision command; a decision that cannot be made is
    one line and exit code 2."""
    from safetymonth.decisions import DecisionError
    from safetymonth.storage.repository import open_repository

    config = config_of(ctx)
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


def _after_decision(ctx: click.Context, config: Config, store: Repository, record: Any,
                    notify: bool) -> None:
    from safetymonth.decisions import describe, file_names, unit_names
    from safetymonth.mailbox.service import send_queued

    click.echo(describe(record, unit_names(config), file_names(store, [record])))
    if notify:
        log_to_stderr(config)
        with mail_server_errors(ctx):
            send_queued(config, store)


@main.command()
@config_option
@unit_option
@json_option
@click.pass_context
def messages(ctx: click.Context, unit: str | None, as_json: bool) -> None:
    """Every message received, with the unit it is credited to now."""
    from safetymonth.decisions import message_rows

    with decision_store(ctx) as (config, store):
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

    with decision_store(ctx) as (config, store):
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

    with decision_store(ctx) as (config, store):
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

    with decision_store(ctx) as (config, store):
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

        with decision_store(ctx) as (config, store):
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

    with decision_store(ctx) as (config, store):
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

    with decision_store(ctx) as (config, store):
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

    with decision_store(ctx) as (config, store):
        record = decisions.undo(store, decision, decisions.decided_by(by))
        click.echo(decisions.describe(record, decisions.unit_names(config),
                                      decisions.file_names(store, [record])))


@main.command()
@config_option
@click.argument("file", metavar="FILE")
@click.option("--deliverable", required=True, metavar="ID",
              help="The deliverable's id (campaign.deliverables).")
@reason_option
@by_option
@click.pass_context
def assign(ctx: click.Context, file: str, deliverable: str, reason: str,
           by: str | None) -> None:
    """Count FILE (its id from `files`) for the deliverable ID, whatever its name said."""
    from safetymonth import decisions

    with decision_store(ctx) as (config, store):
        record = decisions.assign(config, store, file, deliverable, reason,
                                  decisions.decided_by(by))
        _after_decision(ctx, config, store, record, False)
