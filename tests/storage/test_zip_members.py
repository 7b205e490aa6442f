"""Zip members identified by position, never by name: a zip holding an HTML page and then a
photo, both called 现场.jpg, sent by real mail through ``poll --once`` into a store on SQLite
and PostgreSQL. Both are judged, and the console's ``/files/{id}``, ``export`` and decisions
each reach the member they name, on a new store and on one a release before positions wrote.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
from alembic import command

from safetymonth.config import load_config
from safetymonth.mailbox import samplemail
from safetymonth.mailbox.samplemail import Media
from safetymonth.storage import database
from tests.support.cli_runs import BYG, as_json, polled, run
from tests.support.console import cli, log_in, serve

pytestmark = pytest.mark.usefixtures("on_both_engines")  # SQLite and PostgreSQL

PAGE = b"<html><body><script>alert(1)</script></body></html>"
NAME = "现场.jpg"


def two_of_one_name(photo: bytes) -> bytes:
    """A zip whose directory holds a folder entry, then the page, then the photo, the two
    files under one name (Python warns, and writes it as asked)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        bundle.writestr("相册/", b"")
        bundle.writestr(NAME, PAGE)
        bundle.writestr(NAME, photo)
    data = buffer.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:  # as every reader sees it
        assert [info.filename for info in bundle.infolist()] == ["相册/", NAME, NAME]
    return data


def mail(media: Media) -> bytes:
    return samplemail.message("byg@dhmz.example.cn", "照片", [
        samplemail.text_part("见附件"),
        samplemail.file_part(two_of_one_name(media.photo), samplemail.utf8_name("打包.zip"),
                             "application/zip")])


def members(config: Path) -> list[dict[str, Any]]:
    found = [item for item in as_json(config, "files") if item["name"] == f"打包.zip!{NAME}"]
    assert len(found) == 2
    return found


@pytest.mark.slow
def test_two_members_of_one_name_are_each_judged_served_and_exported(
        tmp_path: Path, mail_media: Media) -> None:
    config = polled(tmp_path, {"1.eml": mail(mail_media)})
    page, photo = members(config)
    assert (page["ok"], photo["ok"]) == (False, True)
    assert photo["kind"] == "photo" and (photo["width"], photo["height"]) == (1920, 1080)
    tally = next(unit for unit in as_json(config, "report")["units"] if unit["name"] == BYG)
    assert tally["photos_ok"] == 1

    # A decision on one is not a decision on the other: their contents differ.
    run(config, "reject", str(photo["id"]), "--reason", "不是现场照片")
    page_now, photo_now = members(config)
    assert (page_now["decision"], photo_now["decision"]) == (None, "reject")
    run(config, "undo", "1")

    assert downloads(config, page["id"], photo["id"]) == (PAGE, mail_media.photo)
    out = tmp_path / "out"
    run(config, "export", str(out), "--unit", BYG)
    exported = {path.name: path.read_bytes() for path in (out / BYG).iterdir()}
    assert exported == {NAME: PAGE, "现场 (2).jpg": mail_media.photo}


def downloads(config: Path, *ids: int) -> tuple[bytes, ...]:
    """The bytes ``GET /files/{id}`` serves for each id, through a real ``serve``; the unit's
    one-zip download must hold the same members, each under its own name."""
    cli(config, "user", "add", "clerk", "--role", "coordinator", stdin="clerk-pass-2\n")
    console = serve(config)
    running = next(console)
    try:
        with running.client() as client:
            assert log_in(client, "clerk", "clerk-pass-2").status_code == 303
            responses = [client.get(f"/files/{file}") for file in ids]
            bundle = client.get(f"/units/{BYG}/files.zip")
    finally:
        console.close()
    assert all(response.status_code == 200 for response in responses)
    served = tuple(response.content for response in responses)
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        bundled = sorted(archive.read(info) for info in archive.infolist())
    assert bundled == sorted(served)
    return served


@pytest.mark.slow
def test_a_store_from_before_member_positions_is_upgraded_to_them(
        tmp_path: Path, mail_media: Media) -> None:
    """Revision 0060 kept no position: such a store's members get theirs from the order the
    release recorded its verdicts in (one per file, directories skipped)."""
    config = polled(tmp_path, {"1.eml": mail(mail_media)})
    settings = load_config(config)
    engine = database.create(database.database_url(settings.storage_dir,
                                                   settings.storage.database), None)
    with engine.begin() as connection:  # the store as the release before wrote it
        command.downgrade(database._alembic(connection), "0060")
    engine.dispose()

    page, photo = members(config)  # the first open upgrades it
    assert (page["ok"], photo["ok"]) == (False, True)
    out = tmp_path / "out"
    run(config, "export", str(out), "--unit", BYG)
    exported = {path.name: path.read_bytes() for path in (out / BYG).iterdir()}
    assert exported == {NAME: PAGE, "现场 (2).jpg": mail_media.photo}
    assert downloads(config, page["id"], photo["id"]) == (PAGE, mail_media.photo)
