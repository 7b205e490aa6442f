"""The documents page against a real ``safetymonth serve``: the form is checked before
anything is saved or generated, and the PDF and its preview are made by LibreOffice once per
content (then served from the kept file), also under concurrent requests."""

from __future__ import annotations

import html
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.console import Console, csrf_of

TITLE = "德化县民政局关于开展2026年安全管理月活动的通知"


def notice_form(client: httpx.Client) -> dict[str, str]:
    """The notice form's fields as the page fills them (the example data)."""
    page = client.get("/documents/notice").text
    fields = {html.unescape(name): html.unescape(value) for name, value in
              re.findall(r'<input name="([^"]+)" value="([^"]*)"', page)}
    fields.update({html.unescape(name): html.unescape(value) for name, value in
                   re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S)})
    fields["csrf"] = csrf_of(page)
    return fields


def post_notice(client: httpx.Client, title: str) -> httpx.Response:
    return client.post("/documents/notice", data={**notice_form(client), "f:title": title})


def saved(console: Console) -> Path:
    return console.folder / "storage" / "documents" / "notice.yaml"


def pdf_text(data: bytes, folder: Path) -> str:
    path = folder / "got.pdf"
    path.write_bytes(data)
    result = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return "".join(result.stdout.decode().split())


@pytest.mark.slow
def test_the_form_is_checked_before_anything_is_saved(console: Console) -> None:
    client = console.logged_in()
    assert post_notice(client, TITLE).status_code == 303
    before = saved(console).read_bytes()
    assert TITLE in before.decode()

    control = post_notice(client, "关于开展\x01安全管理月活动的通知")
    assert control.status_code == 400
    assert "控制字符" in control.text and "U+0001" in control.text
    huge = post_notice(client, "x" * 300_000)
    assert huge.status_code == 400
    assert "title" in huge.text
    assert saved(console).read_bytes() == before  # neither was saved


@pytest.mark.libreoffice
def test_pdf_and_preview_are_made_once_per_content(console: Console, tmp_path: Path) -> None:
    client = console.logged_in()
    assert post_notice(client, TITLE).status_code == 303

    def fetch(path: str) -> tuple[int, bytes]:
        response = console.logged_in().get(path)
        return response.status_code, response.content

    with ThreadPoolExecutor(3) as workers:
        first = list(workers.map(fetch, ["/documents/notice/pdf"] * 3))
    assert {code for code, _ in first} == {200}
    assert len({data for _, data in first}) == 1  # one conversion, served three times
    again = client.get("/documents/notice/pdf")
    assert again.content == first[0][1]  # LibreOffice stamps each run: the same file
    assert TITLE in pdf_text(again.content, tmp_path)
    preview = client.get("/documents/notice/preview.png")
    assert preview.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/documents/notice/preview.png").content == preview.content

    # New data: a new PDF, with the new title.
    changed = "德化县民政局关于开展2027年安全管理月活动的通知"
    assert post_notice(client, changed).status_code == 303
    after = client.get("/documents/notice/pdf").content
    assert after != again.content and changed in pdf_text(after, tmp_path)
