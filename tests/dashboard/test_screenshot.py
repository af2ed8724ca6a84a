"""A busy migration on the dashboard, photographed: ``tests/artifacts/dashboard.png`` on every
run, and the README's ``docs/dashboard.png`` when ``SWITCHYARD_UPDATE_SCREENSHOT=1``.

The data goes in through the real code paths (completion recorder, routing, mode changes, dead
letters, a dry-run watchdog tick, two simulated agent systems for health), except a day of
older completions, which are written into the completions stream with past ids so the trend
charts have a history.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import random
import shutil
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import uvicorn
from playwright.async_api import expect
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Issue, Mode, System
from flags.secret import Secret
from flags.transitions import Actor, ActorKind
from service.agents.completion import Completion
from service.devtools.child_processes import free_port
from service.devtools.simulator import create_simulator
from service.keys import Keys
from service.migration.control import MigrationControl
from service.outcomes.recorder import OutcomeRecorder, stream_fields
from service.outcomes.records import CompletionRecord
from service.pipeline.jobs import Job, JobState, job_id_for
from service.pipeline.stream import EventStream, StreamEntry
from service.routing.ownership import OwnershipStore
from service.routing.router import IssueRouter, RoutingCounters
from service.settings import Settings
from service.watchdog.loop import Watchdog, WatchdogConfig
from tests.browser import Tab, log_in
from tests.conftest import REPO, record_completion, serve_app

ARTIFACTS = REPO / "tests" / "artifacts"
DOCS_SCREENSHOT = REPO / "docs" / "dashboard.png"


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
            fields = CompletionRecord(
                job_id=f"job-backfill-{sequence}",
                delivery_id=f"backfill-{sequence}",
                system=system,
                issue=Issue("acme/app", 5000 + sequence),
                success=success,
                duration_seconds=duration,
                dry_run=False,
                pr_number=None,
                output_digest="",
                at=at,
            ).to_fields()
            pipe.xadd(
                Keys(prefix).completions, stream_fields(fields), id=f"{int(at * 1000)}-{sequence}"
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
        await recorder.completion_once(
            job, Completion(job.job_id, number, success, 95.0, dry_run, None, digest)
        )


@pytest.mark.integration
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
            await log_in(page, service)
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
    assert DOCS_SCREENSHOT.stat().st_size > 10_000
