"""Shared fixtures, and the markers of the real parts a test needs (``make test-fast`` leaves
those out). Media files are real, made once per session (tests/support/media_corpus.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from safetymonth.config import Policy
from tests.support import mailservers, media_corpus
from tests.support.browser import browser  # noqa: F401 (Debian's Chromium, Playwright)
from tests.support.console import (  # noqa: F401 (a running console)
    console,
    filled_store,
    shared_console,
)
from tests.support.mailservers import (  # noqa: F401 (mail fixtures)
    dovecot_server,
    imap_user,
    mail_media,
    smtp_server,
)
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401 (PostgreSQL fixtures)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every file of the validator corpus, by name (one copy for all xdist workers)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return media_corpus.build_shared(tmp_path_factory.getbasetemp().parent)
    return media_corpus.build(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def policy() -> Policy:
    return Policy()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> str | None:
    """``storage.database`` for a test that runs on both engines: None (the default SQLite
    file in storage.dir) or a fresh database on the session's PostgreSQL 15."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def on_both_engines(engine: str | None, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """For a module marked ``pytestmark = pytest.mark.usefixtures("on_both_engines")``: each
    test runs twice, and every config ``write_config`` writes names the engine under test."""
    monkeypatch.setattr(mailservers, "DATABASE", engine)
    return engine


# The fixtures that start a real part: a test that needs one (itself or through another
# fixture) gets the part's marker. Parts a test starts itself are marked in its module.
PART_OF_FIXTURE = {
    "dovecot_server": "dovecot",
    "imap_user": "dovecot",
    "postgres_server": "postgres",
    "postgres_url": "postgres",
    "browser": "browser",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by the parts it needs, so ``-m "not postgres"`` and the like select
    by need: the fixtures it uses, and the PostgreSQL run of ``engine`` (whose server is
    asked for at run time, so no fixture list shows it)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        parts = {part for name, part in PART_OF_FIXTURE.items() if name in fixtures}
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("engine") == "postgresql":
            parts.add("postgres")
        for part in sorted(parts):
            item.add_marker(part)
