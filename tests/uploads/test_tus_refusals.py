"""Every refusal of the upload links, in raw HTTP against a real ``safetymonth serve``: 413
before a byte is stored (over ``policy.max_file_size``, over the unit's quota counting its
unfinished uploads), 409 on a wrong offset, 412 without tus 1.0.0, 429 after too many
creations, 507 when the disk is full, and one identical 404 for a wrong, rotated or expired
token, on the page as on tus; and the page's headers."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from safetymonth.config import load_config
from safetymonth.uploads.links import issue
from tests.support.console import PASSWORDS, cli, serve
from tests.support.mailservers import open_store
from tests.support.upload_links import (
    OTHER_UNIT,
    TUS,
    UNIT,
    create,
    links,
    patch,
    token_of,
    upload_config,
)

pytestmark = pytest.mark.usefixtures("on_both_engines")

served = contextlib.contextmanager(serve)
LIMITS = {"policy": {"max_file_size": "1 MiB"}, "uploads": {"quota": "3 MiB"}}
MiB = 1024 * 1024


def stored_uploads(folder: Path) -> list[Path]:
    uploads = folder / "storage" / "uploads"
    return sorted(uploads.iterdir()) if uploads.exists() else []


@pytest.mark.slow
def test_limits_are_checked_before_a_byte_is_stored(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path, **LIMITS)
    token = token_of(config_path)
    with served(config_path) as console, console.client() as client:
        too_big = create(client, token, MiB + 1)
        assert too_big.status_code == 413 and "1.0MB" in too_big.text
        assert stored_uploads(tmp_path) == []
        first = create(client, token, MiB)
        second = create(client, token, MiB)
        assert (first.status_code, second.status_code) == (201, 201)
        assert patch(client, first.headers["location"], 0, b"a" * 1000).status_code == 204
        assert create(client, token, MiB).status_code == 201  # 3 MiB: the quota exactly
        over = create(client, token, 1)  # unfinished uploads count: 3 MiB + 1 B
        assert over.status_code == 413 and "上传空间不足" in over.text
        assert len(stored_uploads(tmp_path)) == 3
        # Another unit's quota is its own.
        assert create(client, token_of(config_path, OTHER_UNIT), MiB).status_code == 201
        assert client.post(f"/u/{token}/tus/", headers={**TUS}).status_code == 400


@pytest.mark.slow
def test_wrong_offset_type_version_and_length(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path, **LIMITS)
    token = token_of(config_path)
    with served(config_path) as console, console.client() as client:
        location = create(client, token, 10).headers["location"]
        assert patch(client, location, 3, b"abc").status_code == 409
        assert patch(client, location, 0, b"abc").status_code == 204
        wrong = patch(client, location, 0, b"abc")
        assert wrong.status_code == 409 and "上传位置不一致" in wrong.text
        assert patch(client, location, 3, b"d", **{"Content-Type": "text/plain"}) \
            .status_code == 415
        old = client.head(location)  # no Tus-Resumable
        assert old.status_code == 412 and old.headers["tus-version"] == "1.0.0"
        past = patch(client, location, 3, b"0123456789")  # 7 fit, 3 too many
        assert past.status_code == 413
        head = client.head(location, headers=TUS)
        assert (head.headers["upload-offset"], head.headers["upload-length"]) == ("10", "10")
        assert head.headers["cache-control"] == "no-store"
        partial = tmp_path / "storage" / "uploads" / location.rsplit("/", 1)[1]
        assert not partial.exists() or partial.read_bytes() == b"abc0123456"
        options = client.options(f"/u/{token}/tus/")
        assert options.status_code == 204
        assert options.headers["tus-extension"] == "creation,termination,expiration"
        assert options.headers["tus-max-size"] == str(MiB)
        # Termination: an unfinished upload is removed; a finished one is a submission.
        other = create(client, token, 10).headers["location"]
        assert client.delete(other, headers=TUS).status_code == 204
        assert client.head(other, headers=TUS).status_code == 404
        assert client.delete(location, headers=TUS).status_code in (404, 409)


@pytest.mark.slow
def test_wrong_rotated_expired_and_foreign_get_the_same_404(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path, **LIMITS)
    old = token_of(config_path)
    other = token_of(config_path, OTHER_UNIT)
    links(config_path, "--rotate", UNIT)
    config = load_config(config_path)
    with open_store(tmp_path) as store:  # a link issued 61 days ago: expired
        unit = next(item for item in config.units if item.name == "德化县儿童福利院")
        record = issue(config, store, unit, datetime.now(UTC) - timedelta(days=61))
        from safetymonth.uploads.links import link_key, token_for

        expired = token_for(link_key(config.storage_dir), record.nonce)
    live = token_of(config_path)
    wrong = "A" * 43
    with served(config_path) as console, console.client() as client:
        foreign = create(client, other, 10).headers["location"].rsplit("/", 1)[1]
        answers = []
        for token in (old, expired, wrong, "短"):
            for method, path in (("GET", f"/u/{token}"), ("GET", f"/u/{token}/files"),
                                 ("POST", f"/u/{token}/tus/"),
                                 ("PATCH", f"/u/{token}/tus/{foreign}"),
                                 ("OPTIONS", f"/u/{token}/tus/")):
                answers.append(_answer(client.request(method, path, headers={
                    **TUS, "Upload-Length": "5", "Upload-Offset": "0",
                    "Content-Type": "application/offset+octet-stream"})))
        # The live token of another unit does not open this unit's upload.
        answers.append(_answer(client.request("PATCH", f"/u/{live}/tus/{foreign}", headers={
            **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
            content=b"x")))
        assert len(set(answers)) == 1
        status, _headers, body = answers[0]
        assert status == 404 and "链接无效或已过期" in body.decode()
        assert client.head(f"/u/{old}/tus/{foreign}", headers=TUS).status_code == 404
        assert client.get(f"/u/{live}").status_code == 200


def _answer(response: httpx.Response) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    headers = tuple(sorted((name, value) for name, value in response.headers.items()
                           if name != "date"))
    return response.status_code, headers, response.content


@pytest.mark.slow
def test_the_page_headers_and_the_creation_rate_limit(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path, **LIMITS)
    token = token_of(config_path)
    cli(config_path, "user", "add", "clerk", "--role", "coordinator",
        stdin=PASSWORDS["clerk"] + "\n")
    with served(config_path) as console, console.client() as client:
        page = client.get(f"/u/{token}")
        assert page.status_code == 200 and UNIT in page.text
        assert OTHER_UNIT not in page.text
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert "/static/uppy/uppy.min.js" in page.text and "https://" not in page.text
        assert client.get("/static/uppy/uppy.min.js").status_code == 200
        assert client.get("/static/uppy/zh_CN.min.js").status_code == 200
        # The console's cookies play no part: a logged-in clerk opens no wrong link.
        clerk = console.logged_in("clerk")
        assert _answer(clerk.get(f"/u/{'B' * 43}")) == _answer(client.get(f"/u/{'B' * 43}"))
        clerk.close()
        statuses = [create(client, token, 1).status_code for _ in range(31)]
        assert statuses[:30] == [201] * 30
        assert statuses[30] == 429
        limited = create(client, token, 1)
        assert limited.status_code == 429 and "太多" in limited.text
        # Another unit's link has its own count.
        assert create(client, token_of(config_path, OTHER_UNIT), 1).status_code == 201


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[None]:
    """``folder`` on a tmpfs of ``size`` (the machine's root may mount): a disk that fills."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                    str(folder)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@pytest.mark.slow
def test_a_full_disk_is_refused_clearly_and_nothing_half_recorded(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path, policy={"max_file_size": "8 MiB"})
    token = token_of(config_path)
    with small_disk(tmp_path / "storage" / "uploads", "1m"), served(config_path) as console, \
            console.client() as client:
        location = create(client, token, 2 * MiB).headers["location"]
        full = patch(client, location, 0, b"z" * (2 * MiB))
        assert full.status_code == 507 and "磁盘已满" in full.text
        partial = tmp_path / "storage" / "uploads" / location.rsplit("/", 1)[1]
        offset = int(client.head(location, headers=TUS).headers["upload-offset"])
        assert offset == partial.stat().st_size < 2 * MiB  # what is on disk, no more
        state = client.get(f"/u/{token}/files").json()
        assert [item["state"] for item in state["uploads"]] == ["open"]
        assert client.delete(location, headers=TUS).status_code == 204  # space given back
