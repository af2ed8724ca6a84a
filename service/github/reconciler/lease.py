"""Leader election for periodic work: a lease in Redis that one holder renews.

One script takes the lease if it is free (``SET NX PX``) or extends it if the caller holds it;
another releases it only for its holder. A holder that dies loses the lease after ``ttl``
and another takes over; a holder that stalls past ``ttl`` learns it on its next renewal.
"""

from __future__ import annotations

from redis.asyncio import Redis

__all__ = ["Lease"]

_ACQUIRE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Lease:
    def __init__(self, redis: Redis, *, key: str, holder: str, ttl_seconds: float) -> None:
        self._redis = redis
        self.key = key
        self.holder = holder
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self) -> bool:
        """Take the lease if it is free, or renew it if it is ours; True while we hold it."""
        return bool(await self._acquire(keys=[self.key], args=[self.holder, self._ttl_ms]))

    async def holder_now(self) -> str | None:
        value = await self._redis.get(self.key)
        return str(value) if value is not None else None

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.holder])
