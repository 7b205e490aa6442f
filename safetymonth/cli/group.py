"""The ``safetymonth`` group itself and the exit codes every command shares."""

from __future__ import annotations

from pathlib import Path

import click

from safetymonth.config import ConfigError
from safetymonth.storage.errors import StorageError, StorageFolderError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_QUEUED = 0, 1, 2, 3


class Group(click.Group):
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


@click.group(cls=Group)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, envvar="SAFETYMONTH_CONFIG",
              help="Config file (default: $SAFETYMONTH_CONFIG, ./config.yaml, built-in defaults).")
@click.version_option(package_name="safetymonth")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """Run a safety management month: check submissions, answer units, write documents."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
