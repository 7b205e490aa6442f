"""The console's list of cloud links to fetch (/cloud-links), soonest expiry first, each
dismissable; and the upload link a reply carries opens its unit's page. SQLite and
PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from safetymonth.mailbox.samplemail import Media, message, text_part
from tests.support.console import Console, cli, csrf_of, fill_store, serve
from tests.support.mailservers import drop

pytestmark = pytest.mark.usefixtures("on_both_engines")

BYG, XZ = "德化县殡仪馆", "德化县浔中镇敬老院"
URL_LATE = "https://mail.163.com/large-attachment-download/index.html?p=late"
URL_SOON = "https://wx.mail.qq.com/ftn/download?func=3&k=soon"


@pytest.fixture
def live(tmp_path: Path, mail_media: Media) -> Iterator[Console]:
    config = fill_store(tmp_path, mail_media)
    drop(tmp_path / "inbox", "c1.eml", message("byg@dhmz.example.cn", "视频", [text_part(
        f"超大附件 演练.mp4 {URL_LATE} （2026年07月09日 10:30到期）")]))
    drop(tmp_path / "inbox", "c2.eml", message("xzjly@dhmz.example.cn", "视频", [text_part(
        f"文件中转站 演练.mp4 {URL_SOON} 有效期至2026-07-05 18:00")]))
    cli(config, "poll", "--once")
    yield from serve(config)


def _rows(page: str) -> list[list[str]]:
    return [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)][:4]
            for row in re.findall(r'<tr class="cloud-link">(.*?)</tr>', page, re.S)]


@pytest.mark.slow
def test_the_list_is_sorted_by_expiry_and_a_dismiss_takes_a_link_off(live: Console) -> None:
    client = live.logged_in()
    page = client.get("/cloud-links")
    assert page.status_code == 200
    listed = client.get("/api/report").json()["cloud_links"]
    soon, late = (item["message"] for item in listed)
    assert _rows(page.text) == [[XZ, f"#{soon}", URL_SOON.replace("&", "&amp;"),
                                 "2026-07-05 18:00"],
                                [BYG, f"#{late}", URL_LATE, "2026-07-09 10:30"]]
    answer = client.post(f"/messages/{soon}/dismiss", data={
        "csrf": csrf_of(page.text), "reason": "已下载", "back": "/cloud-links"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/cloud-links")
    assert [row[0] for row in _rows(client.get("/cloud-links").text)] == [BYG]
    assert [item["url"] for item in client.get("/api/report").json()["cloud_links"]] == [
        URL_LATE]


@pytest.mark.slow
def test_the_link_in_a_reply_opens_the_units_page(live: Console) -> None:
    replies = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
               for path in (live.folder / "outbox" / "new").iterdir()]
    [reply] = [item for item in replies if item["To"] == "byg@dhmz.example.cn"
               and "视频" in str(item["Subject"])]
    text = next(part for part in reply.walk() if part.get_content_type() == "text/plain")
    url = re.search(r"http://\S+/u/[A-Za-z0-9_-]{43}",
                    text.get_payload(decode=True).decode())
    assert url is not None
    page = live.client().get(urlsplit(url[0]).path)
    assert page.status_code == 200 and BYG in page.text
