"""Leader election for periodic work: a lease in Redis that one holder renews.

The watchdog (``Keys.watchdog_lease``), the health monitor (``Keys.health_lease``) and the
delivery reconciler (``Keys.reconciler_leader``) each run in many processes and let one act per
round: the one holding its lease. One script takes the lease when it is free (``SET NX PX``)
or extends it when the caller already holds it (compare-and-set on the holder's name); another
releases it only for its holder. A holder that dies loses the lease after its time-to-live and
another takes over; a holder that stalls past it learns so on its next renewal.
"""

from __future__ import annotations

from redis.asyncio import Redis

__all__ = ["Lease"]

# KEYS: the lease. ARGV: holder, ttl ms. 1 when ARGV[1] holds it (taken or renewed), else 0.
_ACQUIRE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""
# KEYS: the lease. ARGV: holder. Deleted only when ARGV[1] holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class Lease:
    """One holder's view of one lease key; ``ttl_seconds`` unless a renewal names another."""

    def __init__(self, redis: Redis, *, key: str, holder: str, ttl_seconds: float) -> None:
        self._redis = redis
        self.key = key
        self.holder = holder
        self.ttl_seconds = ttl_seconds
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self, *, ttl_seconds: float | None = None) -> bool:
        """Take the lease if it is free, or renew it if it is ours; True while we hold it."""
        ttl = _milliseconds(self.ttl_seconds if ttl_seconds is None else ttl_seconds)
        return bool(await self._acquire(keys=[self.key], args=[self.holder, ttl]))

    async def holder_now(self) -> str | None:
        """Who holds the lease now (None: nobody)."""
        value = await self._redis.get(self.key)
        return str(value) if value is not None else None

    async def release(self) -> None:
        """Let the lease go at once, if it is still ours (another's is left alone)."""
        await self._release(keys=[self.key], args=[self.holder])
