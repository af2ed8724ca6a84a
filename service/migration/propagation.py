"""Flag changes reach every process at once.

A change made through Switchyard (CLI, dashboard, watchdog) is published on a Redis channel
once Unleash has accepted it; a change made in the Unleash UI arrives through Unleash's webhook
addon at ``POST /unleash/events``, which publishes on the same channel. Every service and worker
process subscribes and refetches its flags at once. Messages carry nothing but a hint: a
duplicate or reordered message only causes one more idempotent refetch. Polling stays as the
fallback (``SWITCHYARD_FLAG_REFRESH_SECONDS``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.keys import Keys

__all__ = ["FlagChangeListener", "flag_channel", "publish_flag_change"]

_log = logging.getLogger("switchyard.propagation")


def flag_channel(prefix: str) -> str:
    return Keys(prefix).flags_changed


async def publish_flag_change(redis: Redis, *, prefix: str, source: str) -> int:
    """Tell every process to refetch; returns how many subscribers heard it."""
    message = json.dumps({"source": source, "at": time.time()})
    return int(await redis.publish(flag_channel(prefix), message))


class FlagChangeListener:
    """Subscribes to the flag channel and calls ``refresh`` for every message."""

    def __init__(
        self, redis: Redis, *, prefix: str, refresh: Callable[[], Awaitable[object]]
    ) -> None:
        self._redis = redis
        self._channel = flag_channel(prefix)
        self._refresh = refresh
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.received = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="switchyard-flag-listener")
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        self.received += 1
                        await self._refresh()
            except RedisError as error:
                _log.warning("flag listener lost Redis (%s); resubscribing", error)
                await asyncio.sleep(0.5)
