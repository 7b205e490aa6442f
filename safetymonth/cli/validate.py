"""``safetymonth validate``: check files against the policy without mail or a store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from safetymonth.cli.group import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from safetymonth.cli.options import config_of, config_option


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

    config = config_of(ctx)
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
