"""``report`` and ``export``: what the units sent, as a table or as folders of files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from safetymonth.cli.decisions import decision_store
from safetymonth.cli.group import EXIT_FAILED, main
from safetymonth.cli.options import config_of, config_option, unit_option


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

    config = config_of(ctx)
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
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@unit_option
@click.option("--accepted-only", is_flag=True, help="Only files accepted after decisions.")
@click.pass_context
def export(ctx: click.Context, folder: Path, unit: str | None, accepted_only: bool) -> None:
    """Write the units' files into DIR/<unit name>/ and the list into DIR/清单.xlsx."""
    from safetymonth.export import ExportError, export_files

    with decision_store(ctx) as (config, store):
        try:
            result = export_files(config, store, folder, unit, accepted_only)
        except ExportError as error:
            click.echo(f"safetymonth: {error}", err=True)
            ctx.exit(EXIT_FAILED)
        skipped = f", {result.skipped} unsafe zip members left out" if result.skipped else ""
        click.echo(f"{result.files} files in {folder}{skipped}; list: {result.manifest}")
