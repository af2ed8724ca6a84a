"""How fast a kill switch reaches routing: through Switchyard, through Unleash's addon, by polling.

The times are printed and written to tests/artifacts/propagation.json; the assertions are only
that every path gets there (speed goals live in bench/, not in the suite).
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, Issue
from flags.provision import EVENTS_SECRET_HEADER
from flags.transitions import Actor, ActorKind
from service.devtools import stack
from service.devtools.propagation_timing import RuntimeObserver, time_flips, wait_for_the_addon
from service.keys import Keys
from service.migration.control import MigrationControl
from service.runtime import Runtime, open_runtime
from service.settings import Settings
from tests import stack_lock
from tests.conftest import REPO, RunningService, serve_app

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
FLIPS = 3
ISSUE = Issue("acme/app", 4242)
ALICE = Actor("alice", ActorKind.HUMAN, "cli")


@pytest.fixture
async def worker(service: RunningService) -> AsyncIterator[Runtime]:
    """A second process's view: its own provider and listener on the service's channel."""
    async with open_runtime(service.settings, role="worker") as runtime:
        yield runtime


@pytest.fixture
async def addon_service(
    settings: Settings, prefix: str, flags_reset: UnleashAdmin
) -> AsyncIterator[RunningService]:
    """The service where the provisioned webhook addon calls it (SWITCHYARD_URL's port), once
    Unleash has started calling it. Unleash caches its addon list for a minute, so an addon
    created moments ago (a fresh stack) may take up to 60 s to fire for the first time. The
    port is the stack's own: other test sessions on the stack wait (tests/stack_lock.py)."""
    port = urlsplit(settings.service_url).port or 80
    own = dataclasses.replace(settings, redis_prefix=prefix)
    config = stack.StackConfig.from_env(os.environ, repo=REPO)
    async with stack_lock.exclusive(config.root), serve_app(own, port) as running:
        await wait_for_the_addon(
            flags_reset, lambda: running.app.state.unleash_notifications > 0, within=90
        )
        yield running


async def _measure(
    runtime: Runtime, admin: UnleashAdmin, flip: Callable[[], Awaitable[object]]
) -> list[float]:
    return await time_flips(RuntimeObserver(runtime, ISSUE), admin, flip, flips=FLIPS)


def _report(path: str, times: list[float]) -> dict[str, float]:
    summary = {"median_s": statistics.median(times), "max_s": max(times)}
    print(f"\npropagation via {path}: " + ", ".join(f"{t * 1000:.0f} ms" for t in times))
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "propagation.json"
    existing = json.loads(target.read_text()) if target.exists() else {}
    existing[path] = {**summary, "samples_s": times}
    target.write_text(json.dumps(existing, indent=2))
    return summary


async def test_rollback_through_switchyard_reaches_other_processes(
    worker: Runtime, flags_reset: UnleashAdmin, redis_client: Redis, service: RunningService
) -> None:
    control = MigrationControl(
        admin=flags_reset, redis=redis_client, prefix=service.settings.redis_prefix
    )
    times = await _measure(
        worker, flags_reset, lambda: control.rollback(actor=ALICE, reason="drill")
    )
    _report("switchyard", times)
    assert worker.listener.received >= FLIPS  # by broadcast; how fast is bench/propagation.py's


async def test_flip_in_unleash_reaches_routing_through_the_addon(
    addon_service: RunningService, flags_reset: UnleashAdmin
) -> None:
    async with open_runtime(addon_service.settings, role="worker") as worker:
        received_before = worker.listener.received
        times = await _measure(
            worker, flags_reset, lambda: flags_reset.set_enabled(KILL_SWITCH_FLAG, True)
        )
        assert worker.listener.received > received_before  # by broadcast, not by polling
    _report("addon", times)


async def test_flip_reaches_routing_by_polling_alone(
    settings: Settings, flags_reset: UnleashAdmin, prefix: str
) -> None:
    isolated = dataclasses.replace(
        settings, redis_prefix=Keys(prefix).scoped("nobody-publishes").prefix
    )
    async with open_runtime(isolated, role="poller") as runtime:
        times = await _measure(
            runtime, flags_reset, lambda: flags_reset.set_enabled(KILL_SWITCH_FLAG, True)
        )
        assert runtime.listener.received == 0
    _report(f"polling every {settings.flag_refresh_seconds:g} s", times)


async def test_unleash_events_endpoint_refuses_a_wrong_secret(service: RunningService) -> None:
    async with httpx.AsyncClient() as client:
        wrong = await client.post(
            f"{service.url}/unleash/events", headers={EVENTS_SECRET_HEADER: "nope"}, json={}
        )
        missing = await client.post(f"{service.url}/unleash/events", json={})
        right = await client.post(
            f"{service.url}/unleash/events",
            headers={
                EVENTS_SECRET_HEADER: service.settings.require_unleash_events_secret().reveal()
            },
            json={"type": "feature-updated"},
        )
    assert (wrong.status_code, missing.status_code, right.status_code) == (401, 401, 202)
