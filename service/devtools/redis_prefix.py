"""Every key under one Redis prefix: the demo's fresh start, benchmarks and tests clean up."""

from __future__ import annotations

from redis.asyncio import Redis

from service.keys import Keys

__all__ = ["delete_prefix"]

_BATCH = 1000


async def delete_prefix(redis: Redis, prefix: str) -> int:
    """Delete every key under ``prefix:`` (``UNLINK`` in batches); how many there were."""
    deleted = 0
    batch: list[str] = []
    async for key in redis.scan_iter(match=Keys(prefix).pattern, count=_BATCH):
        batch.append(key)
        if len(batch) >= _BATCH:
            deleted += int(await redis.unlink(*batch))
            batch.clear()
    if batch:
        deleted += int(await redis.unlink(*batch))
    return deleted
