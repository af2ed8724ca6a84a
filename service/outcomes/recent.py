"""Recent activity for the dashboard and ``/migration/status``: small readers over Redis.

* routed issues: the router's capped list ``<prefix>:routing:recent`` (newest first), one entry
  per routing decision with the issue, the acting and shadow systems, the mode and the reason;
* shadow mismatches: the newest comparisons whose outcomes disagreed, kept in a capped list
  (``comparisons:mismatches``) as they are recorded, so no read scans the stream;
* dead letters: the newest entries of ``<prefix>:dead-letters``, without the payload body.

Readers only: nothing here writes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from redis.asyncio import Redis

from service.keys import Keys
from service.outcomes.records import ComparisonRecord
from service.pipeline.stream import EventStream
from service.routing.router import RoutingCounters

__all__ = ["read_recent", "recent_dead_letters", "recent_mismatches", "recent_routed"]


async def recent_routed(redis: Redis, *, prefix: str, limit: int = 10) -> list[dict[str, Any]]:
    """The last ``limit`` routing decisions, newest first."""
    key = RoutingCounters(redis, prefix=prefix).recent_key
    rows: list[dict[str, Any]] = []
    for raw in await redis.lrange(key, 0, limit - 1):
        try:
            rows.append(json.loads(str(raw)))
        except ValueError:
            continue  # a foreign value in our list is skipped, not fatal for a read
    return rows


async def recent_mismatches(redis: Redis, *, prefix: str, limit: int = 10) -> list[dict[str, str]]:
    """The newest shadow comparisons whose control and candidate disagreed, newest first."""
    rows: list[dict[str, str]] = []
    for raw in await redis.lrange(Keys(prefix).recent_mismatches, 0, limit - 1):
        try:
            rows.append(ComparisonRecord.from_fields(json.loads(str(raw))).to_fields())
        except (ValueError, KeyError, TypeError):
            continue  # a foreign value in our list is skipped, not fatal for a read
    return rows


async def recent_dead_letters(
    redis: Redis, *, prefix: str, limit: int = 10
) -> list[dict[str, Any]]:
    """The newest dead letters, newest first; the payload body is left out."""
    key = EventStream(redis, prefix=prefix).dead_key
    raw = await redis.xrevrange(key, count=limit) or []
    rows: list[dict[str, Any]] = []
    for dead_id, fields in raw:
        values = {str(k): str(v) for k, v in (fields or {}).items()}
        rows.append(
            {
                "dead_id": str(dead_id),
                "delivery_id": values.get("delivery_id", ""),
                "event": values.get("event", ""),
                "system": values.get("system", ""),
                "error": values.get("error", ""),
                "attempts": int(values.get("attempts") or 0),
                "failed_at": float(values.get("failed_at") or 0),
            }
        )
    return rows


async def read_recent(redis: Redis, *, prefix: str, limit: int = 10) -> dict[str, Any]:
    """All three, as ``/migration/status`` shows them under ``recent``."""
    routed, mismatches, dead_letters = await asyncio.gather(
        recent_routed(redis, prefix=prefix, limit=limit),
        recent_mismatches(redis, prefix=prefix, limit=limit),
        recent_dead_letters(redis, prefix=prefix, limit=limit),
    )
    return {"routed": routed, "mismatches": mismatches, "dead_letters": dead_letters}
