"""The PostgreSQL the storage tests run on: a real server, its own, on loopback only."""

from __future__ import annotations

import os
import pwd

import psycopg
import pytest

from tests.support.postgres import PASSWORD_ROLE, ROLE_PASSWORD, Postgres


def test_each_test_gets_a_database_of_its_own_on_a_real_postgresql_15(
        postgres_server: Postgres, postgres_url: str) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    with postgres_server.admin(name) as db:
        assert db.execute("SHOW server_version_num").fetchone()[0].startswith("15")
        assert db.execute("SELECT current_database()").fetchone()[0] == name
        assert db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                          ).fetchone()[0] == 0
        assert db.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert db.execute("SHOW unix_socket_directories").fetchone()[0] == \
            str(postgres_server.root)
    expected_owner = pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.geteuid()
    assert os.stat(postgres_server.data).st_uid == expected_owner  # never root's


def test_the_password_role_needs_its_password(postgres_server: Postgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(host="127.0.0.1", port=postgres_server.port, user=PASSWORD_ROLE,
                        dbname="postgres").close()
    psycopg.connect(host="127.0.0.1", port=postgres_server.port, user=PASSWORD_ROLE,
                    password=ROLE_PASSWORD, dbname="postgres").close()
