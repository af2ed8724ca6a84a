"""A real headless Chromium for the dashboard's tests: Debian's ``/usr/bin/chromium`` (installed
by ``make deps``) driven by Playwright (never ``playwright install``)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import RunningService

CHROMIUM = "/usr/bin/chromium"


@contextlib.asynccontextmanager
async def launch_chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclasses.dataclass
class Tab:
    page: Page
    errors: list[str]  # console errors and uncaught exceptions of the page


@contextlib.asynccontextmanager
async def open_tab(browser: Browser) -> AsyncIterator[Tab]:
    """A fresh browser context (no cookies) with one page that records its console errors."""
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield Tab(page, errors)
    finally:
        await context.close()


def admin_token(service: RunningService) -> str:
    token = service.settings.admin_token
    assert token is not None, "the stack's .stack/env must carry SWITCHYARD_ADMIN_TOKEN"
    return token.reveal()


def viewer_token(service: RunningService) -> str:
    token = service.settings.viewer_token
    assert token is not None, "the stack's .stack/env must carry SWITCHYARD_VIEWER_TOKEN"
    return token.reveal()


async def log_in(
    page: Page, service: RunningService, token: str | None = None, name: str = "admin"
) -> None:
    """Log in through the login form (where the dashboard sends a browser without a session),
    with the admin token unless told otherwise; the page then says who is signed in."""
    await page.fill("input[name=token]", token or admin_token(service))
    async with page.expect_navigation():
        await page.click(".login button[type=submit]")
    await expect(page.locator("#actor")).to_have_text(name)
