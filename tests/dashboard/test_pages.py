"""The dashboard in a real headless Chromium against the real service, Redis and Unleash.

Each test has its own Redis prefix and resets the flags in Unleash before and after
(``flags_reset``). Forged requests are in ``test_dashboard_security.py``, the README's
screenshot in ``test_dashboard_screenshot.py``.
"""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from playwright.async_api import Page, expect
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Mode
from flags.transitions import Actor, ActorKind, MigrationState
from service.devtools.child_processes import free_port
from service.migration.audit import AuditTrail
from service.migration.control import MigrationControl, read_state
from service.settings import Settings
from tests.auth import viewer_bearer
from tests.browser import Tab, log_in, viewer_token
from tests.conftest import RunningService, serve_app

pytestmark = pytest.mark.integration

DEFAULTS = MigrationState(Mode.TYPESCRIPT_ONLY, 0, kill_switch=False)
REFRESH_TIMEOUT_MS = 20_000  # the page polls every 5 s


async def _submit(
    page: Page, box: str, fields: dict[str, str], checks: tuple[str, ...] = ()
) -> None:
    form = page.locator(f"#{box}")
    for name, value in fields.items():
        field = form.locator(f"[name={name}]")
        if await field.evaluate("element => element.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    for name in checks:
        await form.locator(f"input[name={name}]").check()
    async with page.expect_navigation():
        await form.locator("button[type=submit]").click()


async def test_page_shows_the_state_with_no_console_errors(
    service: RunningService, flags_reset: UnleashAdmin, tab: Tab
) -> None:
    response = await tab.page.goto(f"{service.url}/migration/dashboard")
    assert response is not None and response.status == 200
    assert tab.page.url.startswith(f"{service.url}/migration/dashboard/login")  # no session yet
    await log_in(tab.page, service, viewer_token(service), name="viewer")
    response = await tab.page.reload()
    assert response is not None and response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    await expect(tab.page.locator("#mode")).to_have_text("typescript_only")
    await expect(tab.page.locator("#rollout")).to_have_text("0 %")
    await expect(tab.page.locator("#kill-switch")).to_have_text("off")
    link = await tab.page.locator("#rollout-link").get_attribute("href")
    assert link == f"{service.settings.unleash_url}/projects/default/features/python-agent-rollout"
    await expect(tab.page.locator("#health")).to_contain_text("redis")
    # the script ran (served from /migration/static under the CSP) and refreshed the panels
    await expect(tab.page.locator("#refresh-status")).to_contain_text(
        "live · updated", timeout=REFRESH_TIMEOUT_MS
    )
    await expect(tab.page.locator("#role")).to_have_text("(viewer)")
    await expect(tab.page.locator(".readonly")).to_be_visible()
    assert await tab.page.locator("aside form").count() == 1  # only the logout
    assert tab.errors == []


async def test_logged_in_actions_change_the_page_and_unleash(
    service: RunningService, flags_reset: UnleashAdmin, tab: Tab
) -> None:
    page, admin = tab.page, flags_reset
    await page.goto(f"{service.url}/migration/dashboard")
    await log_in(page, service)

    await _submit(page, "mode-box", {"mode": "parallel", "reason": "shadow python for a day"})
    await expect(page.locator("#flash")).to_contain_text("Mode switched")
    await expect(page.locator("#mode")).to_have_text("parallel")
    assert await read_state(admin) == MigrationState(Mode.PARALLEL, 0, kill_switch=False)

    await _submit(page, "rollout-box", {"percentage": "25", "reason": "first quarter"})
    await expect(page.locator("#rollout")).to_have_text("25 %")
    assert (await read_state(admin)).rollout == 25

    # parallel -> python_only skips a step: refused, with the table's reason, nothing written
    await _submit(page, "mode-box", {"mode": "python_only", "reason": "too fast"})
    await expect(page.locator("#flash")).to_contain_text("Refused: parallel -> python_only skips")
    assert await read_state(admin) == MigrationState(Mode.PARALLEL, 25, kill_switch=False)

    await _submit(page, "rollback-box", {"reason": "python opens broken PRs"}, checks=("confirm",))
    await expect(page.locator("#kill-banner")).to_contain_text("kill switch ON")
    await expect(page.locator("#kill-banner")).to_contain_text("python opens broken PRs")
    await expect(page.locator("#rollback-box")).to_be_hidden()
    await expect(page.locator("#mode-box")).to_be_hidden()
    assert (await read_state(admin)).kill_switch is True

    await _submit(page, "leave-box", {"mode": "gradual", "reason": "fix deployed"})
    await expect(page.locator("#flash")).to_contain_text("Left emergency rollback")
    await expect(page.locator("#kill-banner")).to_have_count(0)
    assert await read_state(admin) == MigrationState(Mode.GRADUAL, 25, kill_switch=False)

    entries = await AuditTrail(service.runtime.redis, prefix=service.runtime.prefix).recent(10)
    assert [(e.change, e.actor, e.source) for e in entries] == [
        ("leave_rollback", "admin", "dashboard"),
        ("rollback", "admin", "dashboard"),
        ("set_rollout", "admin", "dashboard"),
        ("set_mode", "admin", "dashboard"),
    ]
    await expect(page.locator("#audit")).to_contain_text("fix deployed")

    async with page.expect_navigation():
        await page.click(".who button[type=submit]")
    await expect(page.locator(".login")).to_be_visible()
    assert tab.errors == []


async def test_rollback_needs_its_confirmation(
    service: RunningService, flags_reset: UnleashAdmin, tab: Tab
) -> None:
    page = tab.page
    await page.goto(f"{service.url}/migration/dashboard")
    await log_in(page, service)
    # the browser refuses an unticked required box; remove that check to reach the server's
    await page.locator("#rollback-box input[name=confirm]").evaluate("box => box.required = false")
    await _submit(page, "rollback-box", {"reason": "no confirmation"})
    await expect(page.locator("#flash")).to_contain_text("tick the box to confirm")
    assert (await read_state(flags_reset)).kill_switch is False


async def test_page_updates_itself_after_a_change_made_elsewhere(
    service: RunningService, flags_reset: UnleashAdmin, tab: Tab
) -> None:
    page = tab.page
    await page.goto(f"{service.url}/migration/dashboard")
    await log_in(page, service, viewer_token(service), name="viewer")
    await expect(page.locator("#mode")).to_have_text("typescript_only")
    await page.evaluate("() => { window.sameDocument = true; }")
    control = MigrationControl(
        admin=flags_reset, redis=service.runtime.redis, prefix=service.runtime.prefix
    )
    bob = Actor("bob", ActorKind.HUMAN, "cli")
    await control.set_mode(Mode.PARALLEL, actor=bob, reason="from the CLI")
    await expect(page.locator("#mode")).to_have_text("parallel", timeout=REFRESH_TIMEOUT_MS)
    await expect(page.locator("#audit")).to_contain_text("from the CLI")
    await control.rollback(actor=bob, reason="pulled elsewhere")
    await expect(page.locator("#kill-banner")).to_be_visible(timeout=REFRESH_TIMEOUT_MS)
    assert (await page.title()).startswith("ROLLBACK")
    assert await page.evaluate("() => window.sameDocument === true"), "the page was reloaded"
    assert tab.errors == []


async def test_without_credentials_nobody_gets_in(
    settings: Settings, prefix: str, flags_reset: UnleashAdmin, tab: Tab
) -> None:
    closed = dataclasses.replace(
        settings, redis_prefix=prefix, admin_token=None, viewer_token=None, users_file=None
    )
    async with serve_app(closed, free_port()) as running:
        await tab.page.goto(f"{running.url}/migration/dashboard")
        await expect(tab.page.locator(".login")).to_contain_text("No one can log in")
        assert await tab.page.locator("form").count() == 0
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                f"{running.url}/migration/dashboard/actions/rollback",
                data={"reason": "x", "confirm": "yes"},
                headers={"Authorization": "Bearer anything"},
            )
            assert answer.status_code == 403
            login = await client.post(
                f"{running.url}/migration/dashboard/login",
                data={"token": "anything"},
                headers={"Origin": running.url},
            )
            assert login.status_code == 403
            status = await client.get(f"{running.url}/migration/status")
            assert status.status_code == 401
    assert await read_state(flags_reset) == DEFAULTS
    assert tab.errors == []


async def test_panels_fragment_and_window(service: RunningService) -> None:
    async with httpx.AsyncClient(timeout=10) as anonymous:
        refused = await anonymous.get(f"{service.url}/migration/dashboard/panels?window=1h")
        assert refused.status_code == 401 and 'id="live"' not in refused.text
        page = await anonymous.get(f"{service.url}/migration/dashboard?window=1h")
        assert page.status_code == 303
        assert page.headers["location"] == "/migration/dashboard/login?window=1h"
    async with httpx.AsyncClient(timeout=10, headers=viewer_bearer(service.settings)) as client:
        fragment = await client.get(f"{service.url}/migration/dashboard/panels?window=1h")
        assert fragment.status_code == 200
        assert fragment.text.lstrip().startswith('<div id="live"') or 'id="live"' in fragment.text
        assert "<html" not in fragment.text
        assert "default-src 'none'" in fragment.headers["content-security-policy"]
        assert (await client.get(f"{service.url}/migration/dashboard?window=1y")).status_code == 400
        script = await client.get(f"{service.url}/migration/static/dashboard.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]


async def test_redis_down_says_so_with_a_way_to_the_kill_switch(service: RunningService) -> None:
    runtime = service.runtime
    healthy = runtime.redis
    runtime.redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True)
    try:
        async with httpx.AsyncClient(timeout=10, headers=viewer_bearer(service.settings)) as client:
            page = await client.get(f"{service.url}/migration/dashboard")
            fragment = await client.get(f"{service.url}/migration/dashboard/panels")
    finally:
        await runtime.redis.aclose()
        runtime.redis = healthy
    assert page.status_code == 503 and fragment.status_code == 503
    assert "Redis unreachable" in page.text
    assert "/features/migration-kill-switch" in page.text
