"""The upload links in the console: each unit's page shows its link (the one ``links``
prints), a coordinator rotates it after confirming, and ``/links/print`` is one sheet of
every unit's link."""

from __future__ import annotations

import contextlib
import html
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.console import PASSWORDS, ROLES, cli, csrf_of, serve
from tests.support.upload_links import OTHER_UNIT, UNIT, links, upload_config

pytestmark = pytest.mark.usefixtures("on_both_engines")

served = contextlib.contextmanager(serve)


@pytest.mark.slow
def test_unit_page_shows_the_link_rotation_needs_a_confirmation_and_the_sheet(
        tmp_path: Path) -> None:
    config_path = upload_config(tmp_path)
    for name in ("clerk", "viewer"):
        cli(config_path, "user", "add", name, "--role", ROLES[name],
            stdin=PASSWORDS[name] + "\n")
    printed = {row["unit"]: row["url"] for row in links(config_path)}
    with served(config_path) as console:
        clerk = console.logged_in("clerk")
        page = clerk.get(f"/units/{quote(UNIT)}")
        assert page.status_code == 200
        assert html.escape(printed[UNIT]) in page.text
        assert printed[OTHER_UNIT] not in page.text
        sheet = clerk.get("/links/print").text
        for unit, url in printed.items():
            assert sheet.count(url) == 1 and unit in sheet
        old_token = printed[UNIT].rsplit("/", 1)[1]
        unconfirmed = clerk.post(f"/links/rotate/{quote(UNIT)}",
                                 data={"csrf": csrf_of(page.text)})
        assert unconfirmed.status_code == 303
        assert clerk.get(f"/u/{old_token}").status_code == 200  # still the same link
        viewer = console.logged_in("viewer")
        refused = viewer.post(f"/links/rotate/{quote(UNIT)}", data={
            "csrf": csrf_of(viewer.get(f"/units/{quote(UNIT)}").text), "confirm": "yes"})
        assert refused.status_code == 403
        rotated = clerk.post(f"/links/rotate/{quote(UNIT)}",
                             data={"csrf": csrf_of(page.text), "confirm": "yes"})
        assert rotated.status_code == 303
        assert clerk.get(f"/u/{old_token}").status_code == 404
        now = {row["unit"]: row["url"] for row in links(config_path)}
        assert now[UNIT] != printed[UNIT] and now[OTHER_UNIT] == printed[OTHER_UNIT]
        assert html.escape(now[UNIT]) in clerk.get(f"/units/{quote(UNIT)}").text
        assert console.client().get("/links/print").status_code in (303, 401)  # no session
        clerk.close()
        viewer.close()
