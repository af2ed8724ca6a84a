"""The periodic reconciler: one process reconciles each round, another takes over."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from service.github.api.hooks import parse_hook
from service.github.reconciler import Reconciler, reconcile_periodically
from service.github.reconciler.ledger import leader_key
from service.leases import Lease
from tests.pipeline.test_worker import eventually
from tests.standin import github_client, running_standin, token_credentials

pytestmark = pytest.mark.integration


async def test_only_the_leader_reconciles_and_another_takes_over_when_it_stops(
    prefix: str, redis_client: Redis
) -> None:
    hook = parse_hook("orgs/acme/hooks/7")
    async with running_standin() as (standin, api):
        standin.deliveries.add_hook(
            hook, url="http://127.0.0.1:9/", secret=token_credentials().token
        )

        def reconciler() -> Reconciler:
            client = github_client(api, token_credentials())
            return Reconciler(client=client, redis=redis_client, prefix=prefix, hooks=[hook])

        key = leader_key(prefix)
        stop_a, stop_b = asyncio.Event(), asyncio.Event()
        a_reports: list[object] = []
        leader = asyncio.create_task(
            reconcile_periodically(
                reconciler(),
                lease=Lease(redis_client, key=key, holder="a", ttl_seconds=30),
                every=0.02,
                stop=stop_a,
                on_report=a_reports.append,
            )
        )

        async def rounds(n: int) -> bool:
            return len(a_reports) >= n

        await eventually(lambda: rounds(2), what="the leader's first rounds")
        follower = asyncio.create_task(
            reconcile_periodically(
                reconciler(),
                lease=Lease(redis_client, key=key, holder="b", ttl_seconds=30),
                every=0.02,
                stop=stop_b,
            )
        )
        await eventually(lambda: rounds(5), what="more rounds of the leader")
        stop_a.set()
        assert await leader >= 5

        async def taken_over() -> bool:
            return await redis_client.get(key) == "b"

        await eventually(taken_over, what="the follower to take the lease")
        stop_b.set()
        assert await follower >= 1
