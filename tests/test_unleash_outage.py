"""Unleash stops: routing goes on from the last known flags, counted and visible."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Issue, System
from flags.source import Freshness
from service import stack
from service.ownership import OwnershipStore
from service.router import IssueRouter, RoutingCounters
from service.runtime import open_runtime
from service.settings import Settings
from tests.conftest import REPO, RunningService

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def _outage(settings: Settings) -> AsyncIterator[None]:
    """Stop the real Unleash (by its pid file) for a while; start it again afterwards."""
    config = stack.StackConfig.from_env(os.environ, repo=REPO)
    os.kill(int((config.pids / "unleash.pid").read_text()), signal.SIGTERM)
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            try:
                await client.get(f"{settings.unleash_url}/health", timeout=0.5)
            except httpx.TransportError:
                break
            await asyncio.sleep(0.1)
    try:
        yield
    finally:
        await asyncio.to_thread(stack.up, config)


async def test_routing_continues_from_cached_flags_while_unleash_is_down(
    settings: Settings,
    prefix: str,
    flags_reset: UnleashAdmin,
    redis_client: Redis,
    tmp_path: Path,
    service: RunningService,
) -> None:
    own = dataclasses.replace(settings, redis_prefix=prefix, flag_cache_dir=tmp_path)
    async with open_runtime(own, role="worker") as before:
        assert before.provider.freshness() == "ready"
    counters = RoutingCounters(redis_client, prefix=prefix)

    async with open_runtime(own, role="worker") as runtime:
        router = IssueRouter(
            flags=runtime.flags,
            owners=OwnershipStore(redis_client, prefix=prefix),
            counters=counters,
        )
        async with _outage(settings):
            assert await runtime.provider.refresh() is False
            routed = await router.route(Issue("acme/app", 5))
            assert routed.freshness is Freshness.CACHED
            assert routed.decision.acting is System.TYPESCRIPT
            assert not routed.decision.degraded and "cached flags" in routed.decision.reason

            async with open_runtime(own, role="restarted-worker") as restarted:
                snapshot = restarted.flags.snapshot(repository="acme/app", issue_number=6)
                assert snapshot.freshness is Freshness.CACHED and snapshot.kill_switch is False
                assert restarted.provider.stats.loaded_from_disk

            async with httpx.AsyncClient() as client:
                ready = await client.get(f"{service.url}/readyz")
            await service.runtime.provider.refresh()
            assert ready.status_code == 200
    assert (await counters.read())["cached_flags"] == 1
