"""The dashboard in a real headless Chromium against the real service, Redis and Unleash.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``make deps``), driven by Playwright.
Forged and unauthenticated requests are sent with plain httpx. Each test has its own Redis
prefix and resets the flags in Unleash before and after (``flags_reset``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import random
import re
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Issue, Mode, System
from flags.secret import Secret
from flags.transitions import Actor, ActorKind, MigrationState
from service.agents.completion import Completion
from service.audit import AuditTrail
from service.control import MigrationControl, read_state
from service.event_stream import EventStream, StreamEntry
from service.jobs import Job, JobState, job_id_for
from service.outcomes import OutcomeRecorder, stream_fields
from service.ownership import OwnershipStore
from service.router import IssueRouter, RoutingCounters
from service.settings import Settings
from service.simulator import create_simulator
from service.watchdog import Watchdog, WatchdogConfig
from tests.conftest import REPO, RunningService, free_port, record_completion, serve_app

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "tests" / "artifacts"
DOCS_SCREENSHOT = REPO / "docs" / "dashboard.png"
DEFAULTS = MigrationState(Mode.TYPESCRIPT_ONLY, 0, kill_switch=False)
REFRESH_TIMEOUT_MS = 20_000  # the page polls every 5 s


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield launched
        await launched.close()


@dataclasses.dataclass
class Tab:
    page: Page
    errors: list[str]


@pytest.fixture
async def tab(browser: Browser) -> AsyncIterator[Tab]:
    """A fresh browser context (no cookies) and page; collects console errors."""
    context: BrowserContext = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield Tab(page, errors)
    await context.close()


def _token(service: RunningService) -> str:
    token = service.settings.admin_token
    assert token is not None, "the stack's .stack/env must carry SWITCHYARD_ADMIN_TOKEN"
    return token.reveal()


async def _log_in(page: Page, service: RunningService, name: str = "alice") -> None:
    await page.fill("input[name=actor]", name)
    await page.fill("input[name=token]", _token(service))
    async with page.expect_navigation():
        await page.click(".login button[type=submit]")
    await expect(page.locator("#actor")).to_have_text(name)


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


async def _wait_for(condition: Callable[[], bool], *, what: str) -> None:
    """Poll ``condition`` until it holds, for up to 10 s."""
    try:
        async with asyncio.timeout(10):
            for _ in itertools.count():
                if condition():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_page_shows_the_state_with_no_console_errors(
    service: RunningService, flags_reset: UnleashAdmin, tab: Tab
) -> None:
    response = await tab.page.goto(f"{service.url}/migration/dashboard")
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
    await expect(tab.page.locator(".login")).to_be_visible()
    assert tab.errors == []


async def test_logged_in_actions_change_the_page_and_unleash(
    service: RunningService, flags_reset: UnleashAdmin, tab: Tab
) -> None:
    page, admin = tab.page, flags_reset
    await page.goto(f"{service.url}/migration/dashboard")
    await _log_in(page, service)

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
        ("leave_rollback", "alice", "dashboard"),
        ("rollback", "alice", "dashboard"),
        ("set_rollout", "alice", "dashboard"),
        ("set_mode", "alice", "dashboard"),
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
    await _log_in(page, service)
    # the browser refuses an unticked required box; remove that check to reach the server's
    await page.locator("#rollback-box input[name=confirm]").evaluate("box => box.required = false")
    await _submit(page, "rollback-box", {"reason": "no confirmation"})
    await expect(page.locator("#flash")).to_contain_text("tick the box to confirm")
    assert (await read_state(flags_reset)).kill_switch is False


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no CSRF field on the logged-in page"
    return found.group(1)


async def _unchanged(service: RunningService, admin: UnleashAdmin) -> None:
    assert await read_state(admin) == DEFAULTS
    assert await AuditTrail(service.runtime.redis, prefix=service.runtime.prefix).recent() == []


async def test_unauthenticated_or_forged_actions_are_refused_and_change_nothing(
    service: RunningService, flags_reset: UnleashAdmin
) -> None:
    url = f"{service.url}/migration/dashboard/actions/mode"
    form = {"mode": "parallel", "reason": "forged"}
    origin = {"Origin": service.url}
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.post(url, data=form, headers=origin)).status_code == 401
        wrong_bearer = {"Authorization": "Bearer not-the-token"}
        assert (await client.post(url, data=form, headers=wrong_bearer)).status_code == 401
        refused_login = await client.post(
            f"{service.url}/migration/dashboard/login",
            data={"actor": "mallory", "token": "guess"},
            headers=origin,
        )
        assert refused_login.status_code == 401 and "set-cookie" not in refused_login.headers
        cross_login = await client.post(
            f"{service.url}/migration/dashboard/login",
            data={"actor": "mallory", "token": _token(service)},
            headers={"Origin": "http://evil.example"},
        )
        assert cross_login.status_code == 403 and "set-cookie" not in cross_login.headers
        await _unchanged(service, flags_reset)

        login = await client.post(
            f"{service.url}/migration/dashboard/login",
            data={"actor": "alice", "token": _token(service)},
            headers=origin,
        )
        assert login.status_code == 303
        set_cookie = login.headers["set-cookie"]
        assert "httponly" in set_cookie.lower() and "samesite=strict" in set_cookie.lower()
        assert _token(service) not in set_cookie
        page = await client.get(f"{service.url}/migration/dashboard")
        csrf = _csrf(page.text)
        forged = [
            ({**form}, origin),  # no CSRF token
            ({**form, "csrf_token": "0" * len(csrf)}, origin),  # a wrong one
            ({**form, "csrf_token": csrf}, {"Origin": "http://evil.example"}),  # foreign origin
            ({**form, "csrf_token": csrf}, {}),  # neither Origin nor Referer
        ]
        for data, headers in forged:
            answer = await client.post(url, data=data, headers=headers)
            assert answer.status_code == 403, (data.keys(), headers, answer.text)
        await _unchanged(service, flags_reset)

        # the same request with everything right goes through: the refusals above were real
        done = await client.post(url, data={**form, "csrf_token": csrf}, headers=origin)
        assert done.status_code == 303
        assert (await read_state(flags_reset)).mode is Mode.PARALLEL

        logout = await client.post(
            f"{service.url}/migration/dashboard/logout", data={"csrf_token": csrf}, headers=origin
        )
        assert logout.status_code == 303
        replay = await client.post(
            url,
            data={"mode": "typescript_only", "reason": "after logout", "csrf_token": csrf},
            headers={**origin, "Cookie": set_cookie.split(";")[0]},
        )
        assert replay.status_code == 401
        assert (await read_state(flags_reset)).mode is Mode.PARALLEL


async def test_bearer_token_acts_and_answers_json(
    service: RunningService, flags_reset: UnleashAdmin
) -> None:
    bearer = {"Authorization": f"Bearer {_token(service)}"}
    base = f"{service.url}/migration/dashboard/actions"
    async with httpx.AsyncClient(timeout=10) as client:
        done = await client.post(
            f"{base}/rollout",
            data={"percentage": "10", "reason": "api", "actor": "ci"},
            headers=bearer,
        )
        assert done.status_code == 200 and done.json()["rollout"] == 10
        refused = await client.post(
            f"{base}/mode", data={"mode": "python_only", "reason": "skip"}, headers=bearer
        )
        assert refused.status_code == 409 and "skips a step" in refused.json()["error"]
        malformed = await client.post(
            f"{base}/rollout", data={"percentage": "110", "reason": "x"}, headers=bearer
        )
        assert malformed.status_code == 400
        as_json = await client.post(f"{base}/rollout", json={"percentage": 5}, headers=bearer)
        assert as_json.status_code == 415
    assert await read_state(flags_reset) == MigrationState(Mode.TYPESCRIPT_ONLY, 10, False)
    (entry,) = await AuditTrail(service.runtime.redis, prefix=service.runtime.prefix).recent()
    assert (entry.actor, entry.source, entry.reason) == ("ci", "api", "api")


async def test_page_updates_itself_after_a_change_made_elsewhere(
    service: RunningService, flags_reset: UnleashAdmin, tab: Tab
) -> None:
    page = tab.page
    await page.goto(f"{service.url}/migration/dashboard")
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


async def test_without_an_admin_token_the_dashboard_is_read_only(
    settings: Settings, prefix: str, flags_reset: UnleashAdmin, tab: Tab
) -> None:
    read_only = dataclasses.replace(settings, redis_prefix=prefix, admin_token=None)
    async with serve_app(read_only, free_port()) as running:
        await tab.page.goto(f"{running.url}/migration/dashboard")
        await expect(tab.page.locator(".readonly")).to_contain_text("SWITCHYARD_ADMIN_TOKEN")
        assert await tab.page.locator("aside form").count() == 0
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                f"{running.url}/migration/dashboard/actions/rollback",
                data={"reason": "x", "confirm": "yes"},
                headers={"Authorization": "Bearer anything"},
            )
            assert answer.status_code == 403
            login = await client.post(
                f"{running.url}/migration/dashboard/login",
                data={"actor": "a", "token": "anything"},
                headers={"Origin": running.url},
            )
            assert login.status_code == 403
    assert await read_state(flags_reset) == DEFAULTS
    assert tab.errors == []


async def test_panels_fragment_and_window(service: RunningService) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        fragment = await client.get(f"{service.url}/migration/dashboard/panels?window=1h")
        assert fragment.status_code == 200
        assert fragment.text.lstrip().startswith('<div id="live"') or 'id="live"' in fragment.text
        assert "<html" not in fragment.text
        assert "default-src 'none'" in fragment.headers["content-security-policy"]
        assert (await client.get(f"{service.url}/migration/dashboard?window=1y")).status_code == 400
        script = await client.get(f"{service.url}/migration/static/dashboard.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]


# --- a realistic page, for the screenshot -----------------------------------------------------


@contextlib.asynccontextmanager
async def _simulator(system: System, secret: Secret) -> AsyncIterator[str]:
    port = free_port()
    app = create_simulator(system=system, success_rate=0.9, latency_ms=50, agent_secret=secret)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        await _wait_for(lambda: server.started, what="the simulator")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _backfill_completions(redis: Redis, prefix: str, now: float) -> None:
    """A day of acting completions in the completions stream, oldest first (explicit ids)."""
    dice = random.Random(7)  # test data, not a secret
    rows: list[tuple[float, System, bool, float]] = []
    for hours_ago in range(23, 0, -1):
        hour = now - hours_ago * 3600
        for _ in range(dice.randint(8, 13)):
            rows.append(
                (
                    hour + dice.uniform(0, 3500),
                    System.TYPESCRIPT,
                    dice.random() < 0.92,
                    dice.uniform(60, 240),
                )
            )
        if hours_ago <= 14:
            python_rate = 0.72 if hours_ago in (6, 7) else 0.9
            for _ in range(dice.randint(2, 3 + (14 - hours_ago) // 2)):
                rows.append(
                    (
                        hour + dice.uniform(0, 3500),
                        System.PYTHON,
                        dice.random() < python_rate,
                        dice.uniform(40, 180),
                    )
                )
    rows.sort(key=lambda row: row[0])
    async with redis.pipeline(transaction=False) as pipe:
        for sequence, (at, system, success, duration) in enumerate(rows):
            fields = {
                "job_id": f"job-backfill-{sequence}",
                "delivery_id": f"backfill-{sequence}",
                "system": system.value,
                "issue": f"acme/app#{5000 + sequence}",
                "success": "1" if success else "0",
                "duration_seconds": f"{duration:.6f}",
                "dry_run": "0",
                "pr_number": "",
                "output_digest": "",
                "at": f"{at:.6f}",
            }
            pipe.xadd(
                f"{prefix}:completions", stream_fields(fields), id=f"{int(at * 1000)}-{sequence}"
            )
        await pipe.execute()


async def _shadow_pair(
    recorder: OutcomeRecorder, number: int, control_ok: bool, shadow_ok: bool
) -> None:
    delivery = f"shadow-{number}"
    for system, dry_run, success in (
        (System.TYPESCRIPT, False, control_ok),
        (System.PYTHON, True, shadow_ok),
    ):
        job = Job(
            job_id=job_id_for(delivery, system, dry_run=dry_run),
            delivery_id=delivery,
            issue=Issue("acme/app", number),
            system=system,
            dry_run=dry_run,
            state=JobState.DISPATCHED,
        )
        digest = f"{number}-{success}"
        await recorder.completion(
            job, Completion(job.job_id, number, success, 95.0, dry_run, None, digest)
        )


async def test_screenshot_of_a_busy_migration(
    settings: Settings, prefix: str, flags_reset: UnleashAdmin, tab: Tab, http: httpx.AsyncClient
) -> None:
    """Writes tests/artifacts/dashboard.png; with SWITCHYARD_UPDATE_SCREENSHOT=1 also the
    README's docs/dashboard.png."""
    secret = settings.agent_secret or Secret("screenshot")
    async with (
        _simulator(System.TYPESCRIPT, secret) as typescript_url,
        _simulator(System.PYTHON, secret) as python_url,
    ):
        own = dataclasses.replace(
            settings, redis_prefix=prefix, typescript_url=typescript_url, python_url=python_url
        )
        async with serve_app(own, free_port()) as service:
            runtime = service.runtime
            redis = runtime.redis
            await _backfill_completions(redis, prefix, time.time())
            for number in range(1, 9):
                await record_completion(
                    redis, prefix, System.TYPESCRIPT, 900 + number, number != 4, 120.0
                )
                await record_completion(
                    redis, prefix, System.PYTHON, 950 + number, number != 6, 80.0
                )
            control = MigrationControl(admin=flags_reset, redis=redis, prefix=prefix)
            bob = Actor("bob", ActorKind.HUMAN, "cli")
            await control.set_mode(Mode.PARALLEL, actor=bob, reason="shadow python on real traffic")
            recorder = OutcomeRecorder(redis, prefix=prefix)
            for number, (control_ok, shadow_ok) in enumerate(
                [(True, True), (True, False), (False, True), (True, True)]
            ):
                await _shadow_pair(recorder, 700 + number, control_ok, shadow_ok)
            await control.set_mode(Mode.GRADUAL, actor=bob, reason="shadow results look good")
            await control.set_rollout(25, actor=bob, reason="first quarter of new issues")
            await _wait_for(
                lambda: (
                    runtime.flags.snapshot(repository="acme/app", issue_number=1).mode
                    is Mode.GRADUAL
                ),
                what="the service to see gradual mode",
            )
            router = IssueRouter(
                flags=runtime.flags,
                owners=OwnershipStore(redis, prefix=prefix),
                counters=RoutingCounters(redis, prefix=prefix),
            )
            for number in range(1201, 1241):
                await router.route(Issue("acme/app", number))
            stream = EventStream(redis, prefix=prefix)
            await stream.bury(
                StreamEntry("0-1", "7f3c9a10-dead-beef", "issues", time.time(), b"{}"),
                system="python",
                error="AgentRetryable: python answered 503 after 5 tries",
                attempts=5,
            )
            watchdog = Watchdog(
                redis=redis,
                http=http,
                control=control,
                prefix=prefix,
                config=WatchdogConfig(name="watchdog-1", dry_run=True),
            )
            assert await watchdog.tick() is not None
            page = tab.page
            await page.goto(f"{service.url}/migration/dashboard")
            await _log_in(page, service, name="alice")
            await expect(page.locator("#mode")).to_have_text("gradual")
            await expect(page.locator("#health")).not_to_contain_text("not configured")
            assert await page.locator(".chart polyline.series-python").count() >= 1
            assert await page.locator(".chart polyline.series-typescript").count() >= 1
            await expect(page.locator("#routed tbody tr")).to_have_count(10)
            await expect(page.locator("#routed")).to_contain_text("python")
            await expect(page.locator("#mismatches tbody tr")).to_have_count(2)
            await expect(page.locator("#dead-letters")).to_contain_text("7f3c9a10-dead-beef")
            await expect(page.locator("#watchdog")).to_contain_text("watchdog-1")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / "dashboard.png"
            await page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if os.environ.get("SWITCHYARD_UPDATE_SCREENSHOT") == "1":
                DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
                shutil.copyfile(shot, DOCS_SCREENSHOT)
            assert tab.errors == []


def test_docs_screenshot_is_committed() -> None:
    assert Path(DOCS_SCREENSHOT).stat().st_size > 10_000
