"""The per-issue lock against the real Redis: mutual exclusion, fencing after expiry,
extension and timeouts."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from flags.model import Issue
from service.keys import Keys
from service.pipeline.issue_lock import IssueLock, LockError, LockTimeout

pytestmark = pytest.mark.integration

ISSUE = Issue(repository="octo/app", number=42)


@pytest.fixture
def redis(redis_client: aioredis.Redis) -> aioredis.Redis:
    """The shared client; the ``prefix`` fixture (conftest) deletes this test's keys."""
    return redis_client


def _lock(redis: aioredis.Redis, prefix: str, *, ttl_seconds: float = 5.0) -> IssueLock:
    return IssueLock(redis, prefix=prefix, ttl_seconds=ttl_seconds, poll_seconds=0.005)


async def test_lock_excludes_concurrent_tasks(redis: aioredis.Redis, prefix: str) -> None:
    lock = _lock(redis, prefix)
    state = {"counter": 0, "inside": 0, "max_inside": 0}
    tokens: list[int] = []

    async def bump() -> None:
        async with lock.hold(ISSUE, wait_seconds=5) as token:
            tokens.append(token)
            state["inside"] += 1
            state["max_inside"] = max(state["max_inside"], state["inside"])
            value = state["counter"]
            await asyncio.sleep(0.001)  # without the lock, the others read the same value
            state["counter"] = value + 1
            assert await lock.is_current(ISSUE, token)
            state["inside"] -= 1

    await asyncio.gather(*(bump() for _ in range(25)))

    assert state == {"counter": 25, "inside": 0, "max_inside": 1}
    assert tokens == sorted(set(tokens))  # fencing tokens rise in the order holders got in
    assert not await redis.exists(Keys(prefix).lock(ISSUE))


async def test_locks_of_different_issues_are_independent(
    redis: aioredis.Redis, prefix: str
) -> None:
    lock = _lock(redis, prefix)
    other = Issue(repository="octo/app", number=43)
    async with lock.hold(ISSUE) as first, lock.hold(other, wait_seconds=0) as second:
        assert await lock.is_current(ISSUE, first)
        assert await lock.is_current(other, second)
        assert second > first


async def test_expired_holder_is_fenced_off(redis: aioredis.Redis, prefix: str) -> None:
    lock = _lock(redis, prefix, ttl_seconds=30)
    old_holder = lock.hold(ISSUE)
    old = await old_holder.__aenter__()
    await redis.pexpire(lock._key(ISSUE), 1)  # the old holder stalls past the ttl ...
    await asyncio.sleep(0.05)  # ... by 50 times the 1 ms left
    assert not await lock.is_current(ISSUE, old)

    async with lock.hold(ISSUE, wait_seconds=0) as new:
        assert new > old
        assert not await lock.extend(ISSUE, old)
        await old_holder.__aexit__(None, None, None)  # the stale release must not free ours
        assert await lock.is_current(ISSUE, new)
        assert not await lock.is_current(ISSUE, old)
    assert not await lock.is_current(ISSUE, new)


async def test_extend_keeps_a_long_holder_current(redis: aioredis.Redis, prefix: str) -> None:
    lock = _lock(redis, prefix, ttl_seconds=30)
    key = lock._key(ISSUE)
    async with lock.hold(ISSUE) as token:
        for _ in range(3):  # each time, the ttl has all but run out: 20 ms left
            await redis.pexpire(key, 20)
            assert await lock.extend(ISSUE, token)
            assert await redis.pttl(key) > 29_000  # renewed to the full ttl
        assert await lock.is_current(ISSUE, token)
        assert not await lock.extend(ISSUE, token + 1)
        assert await redis.pttl(key) > 29_000


async def test_hold_times_out_while_another_holds(redis: aioredis.Redis, prefix: str) -> None:
    lock = _lock(redis, prefix)
    async with lock.hold(ISSUE) as token:
        with pytest.raises(LockTimeout) as caught:
            async with lock.hold(ISSUE, wait_seconds=0.05):
                pytest.fail("acquired a held lock")
        assert isinstance(caught.value, LockError)
        assert caught.value.issue == ISSUE
        assert "octo/app#42" in str(caught.value)
        assert await lock.is_current(ISSUE, token)


async def test_lock_is_released_when_the_block_raises(redis: aioredis.Redis, prefix: str) -> None:
    lock = _lock(redis, prefix)
    with pytest.raises(RuntimeError, match="dispatch failed"):
        async with lock.hold(ISSUE):
            raise RuntimeError("dispatch failed")
    async with lock.hold(ISSUE, wait_seconds=0) as token:
        assert await lock.is_current(ISSUE, token)


async def test_non_positive_ttl_is_refused(redis: aioredis.Redis, prefix: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        IssueLock(redis, prefix=prefix, ttl_seconds=0)
