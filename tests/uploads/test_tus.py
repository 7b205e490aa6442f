"""tus 1.0.0 at ``/u/{token}/tus/`` against a real ``safetymonth serve``: the reference
client (tuspy) resuming an upload a dropped line cut off, the finished file taking the path
of an attachment (content-addressed, validated, credited, listed with ``source: upload``,
undoable, a receipt queued), and the idle upload swept away."""

from __future__ import annotations

import contextlib
import json
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import httpx
import pytest
from tusclient.client import TusClient

from safetymonth.config import load_config
from tests.support.console import cli, serve
from tests.support.mailservers import open_store
from tests.support.upload_links import (
    TUS,
    UNIT,
    create,
    interrupted_patch,
    padded,
    patch,
    probe,
    sha256,
    token_of,
    upload_config,
    video,
)
from tests.support.watching import wait_for

pytestmark = pytest.mark.usefixtures("on_both_engines")

served = contextlib.contextmanager(serve)


def unit_state(client: httpx.Client, token: str) -> dict:  # type: ignore[type-arg]
    response = client.get(f"/u/{token}/files")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def done(client: httpx.Client, token: str) -> bool:
    uploads = unit_state(client, token)["uploads"]
    return bool(uploads) and all(item["state"] in ("done", "failed") for item in uploads)


def offset_of(client: httpx.Client, location: str) -> int:
    response = client.head(location, headers=TUS)
    assert response.status_code == 200
    return int(response.headers["upload-offset"])


@pytest.mark.slow
def test_an_interrupted_upload_resumes_and_is_recorded_like_mail(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path)
    token = token_of(config_path)
    source = video(tmp_path / "source.mp4", 1280, 720)
    width, height = probe(source)
    data = source.read_bytes()
    with served(config_path) as console, console.client() as client:
        created = create(client, token, len(data), "现场视频.mp4")
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        assert created.headers["tus-resumable"] == "1.0.0"
        assert created.headers["upload-expires"].endswith(" GMT")
        sent = len(data) // 3
        partial = tmp_path / "storage" / "uploads" / location.rsplit("/", 1)[1]
        interrupted_patch(console.url, location, data, sent, partial)
        assert wait_for(lambda: offset_of(client, location) == sent, 30)
        assert partial.read_bytes() == data[:sent]
        assert partial.stat().st_mode & 0o777 == 0o600
        uploader = TusClient(f"{console.url}/u/{token}/tus/").uploader(
            str(source), url=console.url + location, chunk_size=64 * 1024)
        assert uploader.offset == sent  # resumed from HEAD, not from 0
        uploader.upload()
        assert wait_for(lambda: done(client, token), 60)
        upload = unit_state(client, token)["uploads"][0]
        assert upload["state"] == "done" and upload["ok"] is True
        assert upload["name"] == "现场视频.mp4"
        assert f"{width}×{height}" in upload["verdicts"][0]["summary"]
        assert not partial.exists()
    digest = sha256(source)
    stored = tmp_path / "storage" / "files" / digest[:2] / digest
    assert stored.read_bytes() == data and stored.stat().st_mode & 0o777 == 0o600
    messages = [row for row in json.loads(cli(config_path, "messages", "--json"))
                if row["source"] == "upload"]
    assert len(messages) == 1 and messages[0]["unit"] == UNIT
    files = [row for row in json.loads(cli(config_path, "files", "--unit", UNIT, "--json"))
             if row["source"] == "upload"]
    assert [(row["name"], row["ok"], row["width"], row["height"], row["sha256"])
            for row in files] == [("现场视频.mp4", True, width, height, digest)]
    report = json.loads(cli(config_path, "report", "--json"))
    unit = next(row for row in report["units"] if row["name"] == UNIT)
    assert unit["videos_ok"] == 1
    with open_store(tmp_path) as store:
        receipts = [reply for reply in store.replies() if reply.kind == "receipt"]
        config = load_config(config_path)
        addresses = next(u for u in config.units if u.name == UNIT).emails
        assert sorted(reply.recipient for reply in receipts) == sorted(addresses)
        text = message_from_bytes(receipts[0].body, policy=default).get_body(
            ("plain",)).get_content()  # type: ignore[union-attr]
        assert "现场视频.mp4" in text and "合格" in text
    history = json.loads(cli(config_path, "history", "--json"))
    added = [row for row in history if row["target"] == messages[0]["id"]]
    assert [(row["action"], row["unit"], row["by"]) for row in added] == \
        [("add", UNIT, "上传链接")]
    cli(config_path, "undo", str(added[0]["id"]), "--by", "tester")
    assert not [row for row in json.loads(cli(config_path, "files", "--unit", UNIT, "--json"))
                if row["source"] == "upload"]


@pytest.mark.slow
def test_a_file_over_100_mb_arrives_whole_in_8_mib_chunks(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path)
    token = token_of(config_path)
    source = padded(video(tmp_path / "big.mp4", 1920, 1080), 120 * 1024 * 1024 + 12345)
    assert probe(source) == (1920, 1080)  # still a valid MP4 to ffprobe
    with served(config_path) as console, console.client() as client:
        uploader = TusClient(f"{console.url}/u/{token}/tus/").uploader(
            str(source), chunk_size=8 * 1024 * 1024, metadata={"filename": "大视频.mp4"})
        uploader.upload(stop_at=40 * 1024 * 1024)  # stopped part-way, then resumed
        resumed = TusClient(f"{console.url}/u/{token}/tus/").uploader(
            str(source), url=uploader.url, chunk_size=8 * 1024 * 1024)
        assert resumed.offset == 40 * 1024 * 1024
        resumed.upload()
        assert wait_for(lambda: done(client, token), 120)
        upload = unit_state(client, token)["uploads"][0]
        assert upload["ok"] is True and "1920×1080" in upload["verdicts"][0]["summary"]
    digest = sha256(source)
    assert (tmp_path / "storage" / "files" / digest[:2] / digest).stat().st_size == \
        source.stat().st_size


@pytest.mark.slow
def test_an_idle_unfinished_upload_is_removed(tmp_path: Path) -> None:
    config_path = upload_config(tmp_path, uploads={"incomplete_hours": 0.0003, "quota": 1000})
    token = token_of(config_path)
    with served(config_path) as console, console.client() as client:
        location = create(client, token, 800).headers["location"]
        assert patch(client, location, 0, b"x" * 100).status_code == 204
        assert create(client, token, 800).status_code == 413  # the idle one still counts
        time.sleep(3)  # past incomplete_hours (about 1 s; times are kept to the second)
        assert client.get(f"/u/{token}").status_code == 200  # each request sweeps
        assert client.head(location, headers=TUS).status_code == 404
        assert not list((tmp_path / "storage" / "uploads").iterdir())
        assert create(client, token, 800).status_code == 201  # its quota is free again
