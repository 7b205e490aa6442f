"""Upload links under test: a store whose config sets ``web`` and ``uploads``, the units'
links read through ``safetymonth links --json``, raw tus requests, and real MP4 files made by
ffmpeg (padded with a top-level ``free`` box to any size: still a valid MP4, as ffprobe says)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import struct
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from click.testing import CliRunner

from safetymonth.cli import main
from tests.support.mailservers import write_config
from tests.support.watching import wait_for

PUBLIC_URL = "https://aqgly.mzj.example.gov.cn"
UNIT = "德化县社会福利中心"  # the demo units' first, fuli@dhmz.example.cn
OTHER_UNIT = "德化县殡仪馆"
TUS = {"Tus-Resumable": "1.0.0"}
PATCH_TYPE = {"Content-Type": "application/offset+octet-stream"}


def upload_config(folder: Path, **sections: object) -> Path:
    """A config.yaml in ``folder`` with ``web.public_url`` set and the given sections."""
    return write_config(folder, web={"public_url": PUBLIC_URL}, **sections)


def links(config_path: Path, *args: str) -> list[dict[str, str]]:
    result = CliRunner().invoke(main, ["--config", str(config_path), "links", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def token_of(config_path: Path, unit: str = UNIT) -> str:
    """The unit's token: the last part of its link's path."""
    url = links(config_path, "--unit", unit)[0]["url"]
    return urlsplit(url).path.rsplit("/", 1)[1]


def video(path: Path, width: int = 1280, height: int = 720, seconds: int = 2) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size={width}x{height}:rate=25:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    str(path)], check=True, timeout=120)
    return path


def padded(path: Path, total: int, block: bytes = bytes(8 * 1024 * 1024)) -> Path:
    """Grow the MP4 at ``path`` to ``total`` bytes with a trailing top-level ``free`` box
    made of ``block`` repeated."""
    pad = total - path.stat().st_size
    assert 8 <= pad < 2**32
    with path.open("ab") as out:
        out.write(struct.pack(">I4s", pad, b"free"))
        left = pad - 8
        while left:
            left -= out.write(block[:min(left, len(block))])
    return path


def probe(path: Path) -> tuple[int, int]:
    """(width, height) of the first video stream, as ffprobe reads it."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    stream = json.loads(out)["streams"][0]
    return int(stream["width"]), int(stream["height"])


def sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def create(client: httpx.Client, token: str, length: int, name: str = "现场.mp4",
           **headers: str) -> httpx.Response:
    """A tus creation (POST) for ``length`` bytes named ``name``."""
    import base64

    metadata = "filename " + base64.b64encode(name.encode()).decode()
    return client.post(f"/u/{token}/tus/", headers={
        **TUS, "Upload-Length": str(length), "Upload-Metadata": metadata, **headers})


def patch(client: httpx.Client, location: str, offset: int, data: bytes,
          **headers: str) -> httpx.Response:
    return client.patch(location, content=data, headers={
        **TUS, **PATCH_TYPE, "Upload-Offset": str(offset), **headers})


def interrupted_patch(url: str, location: str, data: bytes, sent: int, partial: Path) -> None:
    """A PATCH that announces all of ``data`` but sends only ``sent`` bytes of it, then
    closes the connection once they reached the upload's file ``partial``: a line that drops
    mid-upload (bytes still in flight when it drops are lost, as on a real line)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port)) as connection:
        head = (f"PATCH {location} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                f"Content-Type: application/offset+octet-stream\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        connection.sendall(head + data[:sent])
        assert wait_for(lambda: partial.stat().st_size == sent, 30)
        connection.shutdown(socket.SHUT_WR)
        connection.settimeout(30)
        with contextlib.suppress(TimeoutError, ConnectionError):
            connection.recv(1024)
