"""The ``safetymonth`` command: click commands only. Parse, call, print; no logic here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from safetymonth.config import Config, ConfigError, load_config

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Group(click.Group):
    """Turns a config error anywhere into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            click.echo(f"safetymonth: configuration error:\n{error}", err=True)
            ctx.exit(EXIT_USAGE)


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


@main.command()
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
    else:
        click.echo(format_table(verdicts))
    ctx.exit(EXIT_OK if all(v.ok for v in verdicts) else EXIT_FAILED)
