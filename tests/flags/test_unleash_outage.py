"""Unleash stops: routing goes on from the last known flags, counted and visible."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Issue, System
from flags.source import Freshness
from service.routing.ownership import OwnershipStore
from service.routing.router import IssueRouter, RoutingCounters
from service.runtime import open_runtime
from service.settings import Settings
from tests.conftest import RunningService
from tests.processes import unleash_outage

pytestmark = pytest.mark.integration


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
        async with unleash_outage(settings):
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
