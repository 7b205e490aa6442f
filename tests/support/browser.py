"""Debian's Chromium driven by Playwright (never a downloaded browser) for the console's
browser tests, and the page's own reason dialog answered as a clerk would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def chromium(folder: Path, **options: Any) -> Iterator[BrowserContext]:
    """Debian's Chromium with a fresh profile in ``folder``, headless, in Chinese; ``options``
    go to Playwright's persistent context (a time zone, downloads)."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            folder / "chromium-profile", executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900}, locale="zh-CN", **options)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    """A fresh Chromium profile per test, headless, in Chinese, downloads allowed."""
    with chromium(tmp_path, accept_downloads=True) as context:
        yield context


def give_reason(page: Page, prompt: str, reason: str) -> None:
    """Answer the page's reason dialog (a <dialog>, not the browser's window.prompt)."""
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label(prompt).fill(reason)
    dialog.get_by_role("button", name="确定").click()


def sign_in(page: Page, url: str, name: str, password: str) -> None:
    """Log in through the console's own form, as a clerk does."""
    page.goto(f"{url}/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
