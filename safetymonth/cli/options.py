"""Options several commands share, and the config they name (loaded as the store's owner)."""

from __future__ import annotations

from pathlib import Path

import click

from safetymonth.config import Config, load_config
from safetymonth.service_user import become_store_owner


def config_of(ctx: click.Context) -> Config:
    """The config named by ``--config`` (before or after the command); run as root, the
    process becomes the store's owner first so that nothing it writes is root's."""
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

unit_option = click.option("--unit", "unit", default=None, metavar="UNIT",
                           help="Only this unit (its id or name).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
reason_option = click.option("--reason", required=True, help="Why (kept in the history).")
by_option = click.option("--by", "by", default=None, metavar="NAME",
                         help="Who decides (default: the OS user).")
notify_option = click.option("--notify", is_flag=True,
                             help="Queue and send a short reply to the unit saying so.")
