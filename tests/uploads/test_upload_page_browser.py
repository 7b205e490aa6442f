"""The unit's page in Debian's Chromium at a phone's size: Uppy (vendored, in Chinese) sends a
real file chosen in the page over tus, and its verdict appears on the page by itself."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.console import serve
from tests.support.upload_links import UNIT, probe, token_of, upload_config, video

pytestmark = pytest.mark.usefixtures("on_both_engines")

served = contextlib.contextmanager(serve)
PHONE = {"width": 390, "height": 844}


def choose(page: Page, path: Path) -> None:
    """Choose ``path`` as a person does: the Dashboard's 浏览文件, then the file chooser."""
    with page.expect_file_chooser() as chooser:
        page.locator(".uppy-Dashboard").get_by_role("button", name="浏览文件").click()
    chooser.value.set_files(str(path))


def test_a_file_chosen_on_a_phone_gets_its_verdict_on_the_page(
        tmp_path: Path, browser: BrowserContext) -> None:
    config_path = upload_config(tmp_path)
    token = token_of(config_path)
    good = video(tmp_path / "现场视频.mp4", 1280, 720)
    small = video(tmp_path / "手机小视频.mp4", 640, 480)
    assert probe(small) == (640, 480)
    with served(config_path) as console:
        page = browser.new_page()
        blocked: list[str] = []
        page.on("console", lambda message: blocked.append(message.text)
                if "Content Security Policy" in message.text else None)
        page.set_viewport_size(PHONE)
        page.goto(f"{console.url}/u/{token}")
        expect(page.get_by_role("heading", name=UNIT)).to_be_visible()
        dashboard = page.locator(".uppy-Dashboard")
        expect(dashboard).to_contain_text("浏览文件")  # the zh_CN locale
        choose(page, good)
        done = page.locator("#uploads li[data-state=done]")
        expect(done).to_have_count(1, timeout=60_000)
        expect(done).to_contain_text("现场视频.mp4")
        expect(done.locator(".verdict.ok")).to_contain_text("1280×720，合格")
        choose(page, small)
        expect(done).to_have_count(2, timeout=60_000)
        failed = done.filter(has_text="手机小视频.mp4").locator(".verdict.bad")
        expect(failed).to_contain_text("640×480，不合格")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert blocked == []  # Uppy runs under the page's CSP (self only)
