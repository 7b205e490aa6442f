"""A real PostgreSQL 15 for the tests, on loopback, started once per session.

PostgreSQL refuses to run as root, and CI runs as root: as root, ``initdb`` and ``pg_ctl`` run
as the ``postgres`` user the Debian package creates (``runuser -u postgres --``), on a temp
folder that user owns. The socket lives in that folder too. Connections from 127.0.0.1 are
trusted, except for the role :data:`PASSWORD_ROLE`, which must give its password (for the
``storage.password_env`` tests). Every test gets a database of its own.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.support.mailservers import free_port, wait_for_port

PASSWORD_ROLE, ROLE_PASSWORD = "withpassword", "pg-s3cret"
HBA = f"""
local all all trust
host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


def _bin(name: str) -> str:
    """A PostgreSQL program: Debian keeps them out of PATH, under /usr/lib/postgresql/N/bin."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or \
        [path for path in [shutil.which(name)] if path]
    if not found:
        raise RuntimeError(f"{name} not found: install the Debian package postgresql "
                           f"(make system)")
    return found[-1]


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class Postgres:
    root: Path
    port: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    def start(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        subprocess.run(_as_owner([_bin("initdb"), "-D", str(self.data), "-U", "postgres",
                                  "-E", "UTF8", "--locale=C", "--no-sync"]),
                       check=True, capture_output=True)
        hba = self.data / "pg_hba.conf"
        subprocess.run(_as_owner(["sh", "-c", f"cat > {hba}"]), input=HBA.encode(),
                       check=True)
        self.port = free_port()
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   f"-c fsync=off -c max_connections=100")
        subprocess.run(_as_owner([_bin("pg_ctl"), "-D", str(self.data), "-l",
                                  str(self.root / "postgres.log"), "-o", options, "-w",
                                  "start"]), check=True, capture_output=True)
        wait_for_port(self.port)
        with self.admin() as db:
            db.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN CREATEDB "
                       f"PASSWORD '{ROLE_PASSWORD}'")

    def stop(self) -> None:
        subprocess.run(_as_owner([_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                                  "stop"]), check=False, capture_output=True)

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                               dbname=database, autocommit=True)

    def create_database(self, owner: str = "postgres") -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin() as db:
            db.execute(f"CREATE DATABASE {name} OWNER {owner}")
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as db:
            db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    # Not under pytest's temp folder: that is root's alone (0700) and postgres cannot enter.
    server = Postgres(Path(tempfile.mkdtemp(prefix="safetymonth-pg-")))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: Postgres) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)
