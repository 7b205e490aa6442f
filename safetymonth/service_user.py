"""Root running ``safetymonth`` against the service's store becomes the store's owner.

The store must stay its owner's alone (``storage/files.py`` refuses anything else), and the
service runs as its own user (``User=safetymonth``). An admin who runs ``safetymonth report``
or ``user add`` as root would otherwise either be refused or, worse, be told to hand the store
to root and lock the service out. So before a command touches the store, root switches to the
user who owns ``storage.dir`` (or, before the first run, the nearest folder above it), with the
passwords of ``secrets.env`` beside the config file loaded as systemd's ``EnvironmentFile=``
loads them for the units: the same command then sees what the service sees.
"""

from __future__ import annotations

import os
import pwd
import sys
from pathlib import Path

from safetymonth.config import Config

SECRETS_NAME = "secrets.env"
# Commands that work on the caller's own files and never need the store (``generate``'s
# intake table reads it, and then says which user to run as): they keep root's rights.
OWN_FILES_COMMANDS = frozenset({"validate", "generate"})


def become_store_owner(config: Config, config_path: Path | None, command: str) -> None:
    """As root, switch to the owner of ``config.storage_dir`` when that is another user.

    ``command`` is the command line's path (``safetymonth user add``). Does nothing for any
    other user, for a store root owns, for an owner without a name (then the store's own
    check says what to run) or for :data:`OWN_FILES_COMMANDS`."""
    if os.geteuid() != 0 or OWN_FILES_COMMANDS.intersection(command.split()):
        return
    owner = store_owner(config.storage_dir)
    if owner is None:
        return
    secrets = config.base_dir / SECRETS_NAME
    loaded = read_env_file(secrets) if config_path is not None and secrets.is_file() else {}
    for key, value in loaded.items():
        os.environ.setdefault(key, value)  # a variable set on the command line wins
    os.initgroups(owner.pw_name, owner.pw_gid)
    os.setgid(owner.pw_gid)
    os.setuid(owner.pw_uid)
    os.environ.update(HOME=owner.pw_dir, USER=owner.pw_name, LOGNAME=owner.pw_name)
    os.umask(0o077)  # as the units' UMask=: the store is owner-only
    where = f"，密码取自 {secrets}" if loaded else ""
    print(f"safetymonth：以 {owner.pw_name} 身份运行（{config.storage_dir} 的所有者）{where}",
          file=sys.stderr)


def store_owner(store: Path) -> pwd.struct_passwd | None:
    """The named non-root user who owns ``store``, or the nearest existing folder above it
    (a store the first run has yet to create belongs to whoever owns the folder it goes in)."""
    path = store.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    uid = path.stat().st_uid
    if uid == 0:
        return None
    try:
        return pwd.getpwuid(uid)
    except KeyError:
        return None


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines as systemd's ``EnvironmentFile=`` reads them: blank lines and
    lines starting with ``#`` or ``;`` are skipped, one pair of surrounding quotes dropped."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values
