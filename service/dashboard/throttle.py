"""Failed dashboard logins, throttled per client and counted.

A client (its address as the service sees it) may fail :data:`MAX_FAILURES` logins within
:data:`WINDOW_SECONDS`; after that every login attempt from it is answered 429 with
``Retry-After`` until the window runs out, before the token is even compared. Failures and
throttled attempts are counted in one Redis hash (``switchyard_dashboard_logins`` on
``/metrics``).
"""

from __future__ import annotations

from redis.asyncio import Redis

from service.keys import Keys

__all__ = ["MAX_FAILURES", "WINDOW_SECONDS", "LoginThrottle"]

MAX_FAILURES = 5
WINDOW_SECONDS = 60


class LoginThrottle:
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._keys = Keys(prefix)

    async def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or None when it may try now."""
        key = self._keys.login_failures(client)
        failures = int(await self._redis.get(key) or 0)
        if failures < MAX_FAILURES:
            return None
        await self._redis.hincrby(self._keys.login_counts, "throttled", 1)
        return max(1, int(await self._redis.ttl(key)))

    async def failed(self, client: str) -> None:
        key = self._keys.login_failures(client)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS, nx=True)
            pipe.hincrby(self._keys.login_counts, "failed", 1)
            await pipe.execute()

    async def counts(self) -> dict[str, int]:
        raw = await self._redis.hgetall(self._keys.login_counts)
        return {str(key): int(value) for key, value in raw.items()}
