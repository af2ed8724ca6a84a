"""The one Redis lease of the watchdog, the health monitor and the reconciler, on the real Redis."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from service.keys import Keys
from service.leases import Lease

pytestmark = pytest.mark.integration


def _key(prefix: str) -> str:
    return Keys(prefix).reconciler_leader


async def test_one_holder_at_a_time_until_it_lets_go(prefix: str, redis_client: Redis) -> None:
    key = _key(prefix)
    first = Lease(redis_client, key=key, holder="a", ttl_seconds=30)
    second = Lease(redis_client, key=key, holder="b", ttl_seconds=30)
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.acquire()  # renewed
    await second.release()  # not b's to release
    assert await first.holder_now() == "a"
    await first.release()
    assert await first.holder_now() is None
    assert await second.acquire()


async def test_a_renewal_compares_the_holder_and_extends_only_its_own_lease(
    prefix: str, redis_client: Redis
) -> None:
    key = _key(prefix)
    first = Lease(redis_client, key=key, holder="a", ttl_seconds=30)
    assert await first.acquire(ttl_seconds=0.5)
    assert 0 < await redis_client.pttl(key) <= 500
    assert await first.acquire()  # renewed with its own time to live
    assert 29_000 < await redis_client.pttl(key) <= 30_000
    assert not await Lease(redis_client, key=key, holder="b", ttl_seconds=90).acquire()
    assert await redis_client.pttl(key) <= 30_000  # b's attempt did not extend a's lease


async def test_a_dead_holders_lease_runs_out(prefix: str, redis_client: Redis) -> None:
    key = _key(prefix)
    assert await Lease(redis_client, key=key, holder="a", ttl_seconds=0.05).acquire()
    await asyncio.sleep(0.1)
    assert await Lease(redis_client, key=key, holder="b", ttl_seconds=30).acquire()
    assert await Lease(redis_client, key=key, holder="b", ttl_seconds=30).holder_now() == "b"
