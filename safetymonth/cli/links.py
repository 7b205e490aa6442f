"""``links``: each unit's upload link, for files too big for mail."""

from __future__ import annotations

import json

import click

from safetymonth.cli.decisions import decision_store
from safetymonth.cli.group import main
from safetymonth.cli.options import config_option, unit_option


@main.command()
@config_option
@unit_option
@click.option("--rotate", "rotate", default=None, metavar="UNIT",
              help="Issue UNIT a new link; its old link stops working at once.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON array of {unit, url, expires}.")
@click.pass_context
def links(ctx: click.Context, unit: str | None, rotate: str | None, as_json: bool) -> None:
    """Each unit's upload link (issued on first use), valid uploads.link_days."""
    from safetymonth.decisions import find_unit
    from safetymonth.report import local_time
    from safetymonth.uploads.links import units_links

    with decision_store(ctx) as (config, store):
        named = rotate or unit
        units = [find_unit(config, named)] if named else list(config.units)
        found = units_links(config, store, units, rotate=rotate is not None)
    zone = config.campaign.timezone
    if as_json:
        click.echo(json.dumps([{"unit": link.unit.name, "url": link.url,
                                "expires": _iso(link.expires_at, zone)}
                               for link in found], ensure_ascii=False, indent=2))
        return
    for link in found:
        click.echo(f"{link.unit.name}\t{link.url}\t有效期至 {local_time(link.expires_at, zone)}")


def _iso(value: str, zone: str) -> str:
    """A stored UTC time as ISO 8601 in the campaign's time zone (with its offset)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(value).astimezone(ZoneInfo(zone)).isoformat()
