"""A per-issue lock in Redis with a fencing token.

``hold`` takes the lock and yields its fencing token. Taking the lock and drawing the token is
one Lua script, so tokens strictly increase in the order holders get the lock (a token drawn
before waiting could be older than the previous holder's). The lock expires after ``ttl`` as a
backstop against crashed holders; a holder that may outlive it calls ``extend`` and, before
acting, ``is_current`` (the fencing check). Release and extend are compare-and-act on the
token, so a holder whose lock expired never deletes or prolongs its successor's lock.

Keys (``service.keys``): ``Keys.lock(issue)`` (value: the token) and ``Keys.lock_fence`` (the
token counter).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import redis.asyncio as aioredis

from flags.model import Issue
from service.errors import LockError, LockTimeout
from service.keys import Keys

__all__ = ["IssueLock", "LockError", "LockTimeout"]

# KEYS: lock, fence. ARGV: ttl ms. The new token, or nil if the lock is held.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return token
"""

# KEYS: lock. ARGV: token. 1 if released, 0 if the lock is not (or no longer) ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: lock. ARGV: token, ttl ms. 1 if extended, 0 if the lock is not (or no longer) ours.
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class IssueLock:
    """Per-issue mutual exclusion across processes and replicas, with fencing tokens."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str,
        ttl_seconds: float = 60.0,
        poll_seconds: float = 0.05,
    ) -> None:
        if ttl_seconds <= 0 or poll_seconds <= 0:
            raise ValueError("ttl_seconds and poll_seconds must be positive")
        self._redis = redis
        self._keys = Keys(prefix)
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._poll_seconds = poll_seconds
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self._extend = redis.register_script(_EXTEND)

    def _key(self, issue: Issue) -> str:
        return self._keys.lock(issue)

    def hold(self, issue: Issue, *, wait_seconds: float = 30.0) -> AbstractAsyncContextManager[int]:
        """Hold the lock of ``issue`` for the ``async with`` block, yielding the fencing token;
        :class:`LockTimeout` if it is not acquired within ``wait_seconds``."""
        return self._hold(issue, wait_seconds)

    @asynccontextmanager
    async def _hold(self, issue: Issue, wait_seconds: float) -> AsyncIterator[int]:
        token = await self._take(issue, wait_seconds)
        try:
            yield token
        finally:
            await self._release(keys=[self._key(issue)], args=[str(token)])

    async def _take(self, issue: Issue, wait_seconds: float) -> int:
        keys = [self._key(issue), self._keys.lock_fence]
        deadline = time.monotonic() + wait_seconds
        while True:
            token = await self._acquire(keys=keys, args=[str(self._ttl_ms)])
            if token is not None:
                return int(token)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(issue, wait_seconds)
            await asyncio.sleep(min(self._poll_seconds, remaining))

    async def extend(self, issue: Issue, token: int) -> bool:
        """Reset the lock's expiry to the full ttl if ``token`` still holds it."""
        extended = await self._extend(keys=[self._key(issue)], args=[str(token), str(self._ttl_ms)])
        return bool(extended)

    async def is_current(self, issue: Issue, token: int) -> bool:
        """The fencing check: does ``token`` still hold the lock of ``issue``?"""
        holder = await self._redis.get(self._key(issue))
        return holder is not None and int(holder) == token
