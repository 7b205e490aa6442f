"""Files on the console: thumbnails (real photos and a real video, a decompression bomb),
downloads of zip members, uploads streamed to disk with the policy's size limit."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from safetymonth import samples
from safetymonth.config import load_config
from safetymonth.mailbox.samplemail import Media
from safetymonth.storage.credit import FileView
from safetymonth.validator import sandbox
from safetymonth.web import thumbnails
from tests.support.console import Console, csrf_of


def _view(path: Path, kind: str, width: int) -> FileView:
    return FileView(id=1, message=1, attachment=1, unit=None, sender=None, received="",
                    name=path.name, attachment_name=path.name, stored_name="",
                    sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=0, kind=kind,
                    verdict_ok=True, ok=True, decision=None, decision_id=None, reason=None,
                    verdict={"width": width})


def test_thumbnails_keep_the_aspect_and_are_cached_owner_only(tmp_path: Path) -> None:
    config = load_config(None).model_copy(update={"base_dir": tmp_path})
    photo = samples.make_photo(tmp_path / "p.jpg", 1920, 1080)
    portrait = samples.make_photo(tmp_path / "q.jpg", 960, 1280)
    video = samples.make_video(tmp_path / "v.mp4", 1280, 720, seconds=0.4)
    for path, kind, size in [(photo, "photo", (320, 180)), (portrait, "photo", (240, 320)),
                             (video, "video", (320, 180))]:
        made = thumbnails.thumbnail(config, _view(path, kind, 1), path)
        assert made is not None
        with Image.open(made) as image:
            assert (image.format, image.size) == ("JPEG", size)
        assert made.stat().st_mode & 0o777 == 0o600
        assert made.parent.stat().st_mode & 0o777 == 0o700
        assert made.is_relative_to(config.storage_dir)
        assert thumbnails.thumbnail(config, _view(path, kind, 1), path) == made  # cached


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` × ``height`` pixels and holds one row of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
                     chunk(b"IDAT", zlib.compress(b"\0" * (width * 3 + 1))) +
                     chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_gets_no_thumbnail_once(tmp_path: Path) -> None:
    config = load_config(None).model_copy(update={"base_dir": tmp_path})
    bomb = _png_header_only(tmp_path / "bomb.png", 30000, 30000)  # 900 Mpx > 200 Mpx
    view = _view(bomb, "photo", 30000)
    assert thumbnails.thumbnail(config, view, bomb) is None
    marker = thumbnails.cache_path(config, view.sha256).with_suffix(thumbnails.FAILED)
    assert marker.exists()
    assert thumbnails.thumbnail(config, replace(view), bomb) is None  # not tried again


def test_thumbnails_are_made_in_the_probe_sandbox_under_its_memory_cap(tmp_path: Path) -> None:
    config = load_config(None).model_copy(update={"base_dir": tmp_path})
    probe = config.policy.probe.model_copy(update={"max_memory": 256 * 1024 * 1024})
    config = config.model_copy(update={"policy": config.policy.model_copy(
        update={"probe": probe})})
    photo = samples.make_photo(tmp_path / "p.jpg", 1920, 1080)
    assert thumbnails.thumbnail(config, _view(photo, "photo", 1920), photo) is not None
    pool = sandbox.current_pool()
    assert pool is not None and pool.max_memory == config.policy.probe.max_memory
    workers = pool.pids()
    assert workers and os.getpid() not in workers
    # 12,000 × 12,000 is under policy.max_image_pixels, but decoding it takes 432 MB: the
    # worker runs out of its 256 MiB, not the console, and is replaced.
    heavy = _png_header_only(tmp_path / "heavy.png", 12000, 12000)
    assert config.policy.max_image_pixels >= 12000 * 12000
    assert thumbnails.thumbnail(config, _view(heavy, "photo", 12000), heavy) is None
    assert not set(workers) & set(sandbox.current_pool().pids())  # type: ignore[union-attr]
    other = samples.make_photo(tmp_path / "o.jpg", 1080, 1920)
    assert thumbnails.thumbnail(config, _view(other, "photo", 1080), other) is not None


def test_thumbnail_route_serves_jpeg(console: Console) -> None:
    client = console.logged_in()
    files = client.get("/api/files").json()
    photo = next(item for item in files if item["kind"] == "photo" and item["width"] == 1920)
    response = client.get(f"/files/{photo['id']}/thumb")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-content-type-options"] == "nosniff"
    document = next(item for item in files if item["kind"] == "document")
    assert client.get(f"/files/{document['id']}/thumb").status_code == 404


def test_a_zip_member_downloads_as_itself(console: Console, mail_media: Media) -> None:
    # The Foxmail message's zip holds two copies of mail_media.photo under GBK names.
    client = console.logged_in()
    members = [item for item in client.get("/api/files").json() if "!" in item["name"]]
    assert {item["name"] for item in members} == {"活动照片.zip!培训现场.jpg",
                                                  "活动照片.zip!应急演练.jpg"}
    for member in members:
        response = client.get(f"/files/{member['id']}")
        assert response.status_code == 200
        assert response.content == mail_media.photo
        assert response.headers["content-type"] == "image/jpeg"
        assert quote(member["name"].split("!")[1]) in response.headers["content-disposition"]


@pytest.mark.slow
def test_upload_adds_files_to_a_unit(console: Console, tmp_path: Path) -> None:
    client = console.logged_in()
    token = csrf_of(client.get("/").text)
    photo = samples.make_photo(tmp_path / "现场.jpg", 1920, 1080)
    response = client.post("/units/德化县救助管理站/add", data={"csrf": token,
                                                          "reason": "U盘拷来的照片"},
                           files={"files": ("C:\\照片\\现场.jpg", photo.read_bytes(),
                                            "image/jpeg")})
    assert response.status_code == 303
    added = client.get("/api/files", params={"unit": "德化县救助管理站"}).json()
    assert [(item["name"], item["ok"], item["width"]) for item in added] == \
        [("现场.jpg", True, 1920)]
    history = client.get("/api/history").json()
    assert [(item["action"], item["by"], item["reason"]) for item in history] == \
        [("add", "clerk", "U盘拷来的照片")]
    tmp = console.folder / "storage" / "tmp"
    assert not [path for path in tmp.iterdir() if path.name.startswith("upload-")]


@pytest.mark.slow
def test_upload_over_the_size_limit_is_refused_and_removed(console: Console,
                                                           tmp_path: Path) -> None:
    config_path = console.config_path
    text = config_path.read_text(encoding="utf-8") + "policy:\n  max_file_size: 30000\n"
    config_path.write_text(text, encoding="utf-8")
    from tests.support.console import serve

    for small in serve(config_path):
        client = small.logged_in()
        token = csrf_of(client.get("/").text)
        photo = samples.make_photo(tmp_path / "big.jpg", 1920, 1080)
        assert photo.stat().st_size > 30000
        response = client.post("/units/德化县救助管理站/add",
                               data={"csrf": token, "reason": "太大"},
                               files={"files": ("big.jpg", photo.read_bytes(), "image/jpeg")})
        assert response.status_code == 413
        assert client.get("/api/history").json() == []
        tmp = small.folder / "storage" / "tmp"
        assert not [path for path in tmp.iterdir() if path.name.startswith("upload-")]


@pytest.mark.slow
def test_upload_with_a_name_too_long_for_the_file_system(console: Console,
                                                         tmp_path: Path) -> None:
    # 100 CJK characters + .jpg is 304 bytes of UTF-8: over ext4's 255 for one name.
    client = console.logged_in()
    token = csrf_of(client.get("/").text)
    photo = samples.make_photo(tmp_path / "p.jpg", 1920, 1080).read_bytes()
    fits, cut = "安全管理月消防演练现场照片" * 7 + "德化县民政局救助站", "长" * 200
    response = client.post("/units/德化县救助管理站/add",
                           data={"csrf": token, "reason": "U盘拷来的照片"},
                           files=[("files", (f"{fits}.jpg", photo, "image/jpeg")),
                                  ("files", (f"{cut}.jpg", photo, "image/jpeg"))])
    assert response.status_code == 303
    added = client.get("/api/files", params={"unit": "德化县救助管理站"}).json()
    # Kept as intake keeps an attachment's name: whole up to 120 characters, else cut there.
    assert len(fits) == 100 and len(f"{fits}.jpg".encode()) == 304
    assert sorted(item["name"] for item in added) == sorted([f"{fits}.jpg",
                                                             "长" * 116 + ".jpg"])
    stored = client.get(f"/files/{next(i['id'] for i in added if i['name'].startswith('安'))}")
    assert stored.content == photo


def test_a_units_files_in_one_zip(console: Console, mail_media: Media, tmp_path: Path) -> None:
    # fill_store: the welfare centre sent a summary, a video and a photo. Add the same photo
    # again under another name, and a failing photo under the first photo's name.
    unit = "德化县社会福利中心"
    client = console.logged_in()
    token = csrf_of(client.get("/").text)
    response = client.post(f"/units/{unit}/add", data={"csrf": token, "reason": "补充"},
                           files=[("files", ("再发一次.jpg", mail_media.photo, "image/jpeg")),
                                  ("files", ("消防演练现场.jpg", mail_media.small_photo,
                                             "image/jpeg"))])
    assert response.status_code == 303
    assert f'href="/units/{quote(unit)}/files.zip"' in client.get(f"/units/{unit}").text

    def members(query: str) -> dict[str, bytes]:
        response = client.get(f"/units/{unit}/files.zip{query}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
        assert f"filename*=UTF-8''{quote(unit + '-安全管理月材料.zip')}" in \
            response.headers["content-disposition"]
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            assert archive.testzip() is None
            return {name: archive.read(name) for name in archive.namelist()}

    everything = {"安全管理月活动总结.docx": mail_media.document,
                  "消防疏散演练.mp4": mail_media.video, "消防演练现场.jpg": mail_media.photo,
                  "消防演练现场 (2).jpg": mail_media.small_photo}
    assert members("") == everything
    del everything["消防演练现场 (2).jpg"]  # 1280×960: refused by the validator
    assert members("?accepted=1") == everything
    assert client.get("/units/德化县救助管理站/files.zip").status_code == 404  # sent nothing
