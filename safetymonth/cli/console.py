"""The web console from the command line: ``serve`` and the ``user`` accounts."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator

import click

from safetymonth.cli.group import EXIT_FAILED, Group, main
from safetymonth.cli.options import config_of, config_option


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
    from safetymonth.web.memory import keep_freed_buffers

    config = config_of(ctx)
    keep_freed_buffers()  # upload bodies: no fresh pages per 256 KB piece
    os.umask(0o077)  # documents, PDFs and previews it writes under storage.dir: owner-only
    # Proxy headers from a local nginx only: X-Forwarded-Proto marks TLS (Secure cookies),
    # X-Forwarded-For gives the address that login throttling counts.
    # uvloop and httptools: the event loop and parser that upload bodies cost least in
    # (bench/README.md, upload).
    uvicorn.run(create_app(config), host=host, port=port, proxy_headers=True,
                forwarded_allow_ips="127.0.0.1", server_header=False, log_level="info",
                loop="uvloop", http="httptools")


@main.group(cls=Group)
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
@click.option("--group", "group", default=None, metavar="ID",
              help="Only this group's units (a groups: id or name); coordinator or viewer.")
@click.pass_context
def user_add(ctx: click.Context, name: str, role: str, group: str | None) -> None:
    """Add a user; the password is the first line of stdin (a second line may repeat it)."""
    from safetymonth.web import users

    with _user_errors(ctx):
        users.add_user(config_of(ctx), name, role, users.password_from_lines(sys.stdin.read()),
                       group)
    click.echo(f"user {name} added ({role}{f', group {group}' if group else ''})")


@user.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List the users, their roles and groups."""
    from safetymonth.report import local_time
    from safetymonth.web import users

    found = users.list_users(config_of(ctx))
    if as_json:
        click.echo(json.dumps([{"name": item.name, "role": item.role, "group": item.group,
                                "created_at": item.created_at} for item in found],
                              ensure_ascii=False, indent=2))
    zone = config_of(ctx).campaign.timezone
    for item in [] if as_json else found:
        # The group last: scripts read the third column as the creation time.
        click.echo(f"{item.name}\t{item.role}\t{local_time(item.created_at, zone)}\t"
                   f"{item.group or '-'}")


@user.command("remove")
@config_option
@click.argument("name")
@click.pass_context
def user_remove(ctx: click.Context, name: str) -> None:
    """Remove a user; their sessions end at once."""
    from safetymonth.web import users

    with _user_errors(ctx):
        users.remove_user(config_of(ctx), name)
    click.echo(f"user {name} removed")


@user.command("passwd")
@config_option
@click.argument("name")
@click.pass_context
def user_passwd(ctx: click.Context, name: str) -> None:
    """Set a new password from stdin (as for add); the user's sessions end."""
    from safetymonth.web import users

    with _user_errors(ctx):
        users.change_password(config_of(ctx), name, users.password_from_lines(sys.stdin.read()))
    click.echo(f"password of {name} changed")
