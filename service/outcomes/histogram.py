"""Completion counts and a duration histogram per system, shared by every process in Redis.

Prometheus histograms are cumulative counters. Completions are recorded by whichever service
replica received the callback, so the counters live in one Redis hash per system (bucket counts,
sum and count, incremented together in one transaction) and ``/metrics`` on any replica exposes
the same numbers. Dry-run (shadow) completions are kept apart from acting ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

from flags.model import System
from service.keys import Keys

__all__ = ["BUCKETS", "DurationHistogram", "HistogramCounts", "bucket_field"]

BUCKETS: tuple[float, ...] = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, math.inf)
"""Upper bounds in seconds: an agent run takes seconds to tens of minutes."""


def _bound(upper: float) -> str:
    return "+Inf" if math.isinf(upper) else repr(float(upper))  # "1.0": as Prometheus writes


def bucket_field(seconds: float) -> str:
    """The hash field counting ``seconds``: its bucket's upper bound (not cumulative)."""
    return f"le:{_bound(next(bound for bound in BUCKETS if seconds <= bound))}"


@dataclass(frozen=True, slots=True)
class HistogramCounts:
    """One system's counters, cumulative per bucket as Prometheus wants them."""

    system: System
    dry_run: bool
    buckets: tuple[tuple[str, int], ...]  # (upper bound, completions at or below it)
    total: int
    sum_seconds: float
    succeeded: int

    @property
    def failed(self) -> int:
        return self.total - self.succeeded


class DurationHistogram:
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def key(self, system: System, *, dry_run: bool) -> str:
        role = "shadow" if dry_run else "acting"
        return Keys(self._prefix).histogram(system, role)

    async def observe(
        self, system: System, *, seconds: float, success: bool, dry_run: bool
    ) -> None:
        key = self.key(system, dry_run=dry_run)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, bucket_field(seconds), 1)
            pipe.hincrby(key, "count", 1)
            pipe.hincrbyfloat(key, "sum", max(seconds, 0.0))
            if success:
                pipe.hincrby(key, "succeeded", 1)
            await pipe.execute()

    async def read(self) -> list[HistogramCounts]:
        result = []
        roles = [(system, dry_run) for system in System for dry_run in (False, True)]
        async with self._redis.pipeline(transaction=False) as pipe:  # one round trip
            for system, dry_run in roles:
                pipe.hgetall(self.key(system, dry_run=dry_run))
            hashes = await pipe.execute()
        for (system, dry_run), raw in zip(roles, hashes, strict=True):
            running = 0
            buckets = []
            for upper in BUCKETS:
                running += int(raw.get(f"le:{_bound(upper)}", 0))
                buckets.append((_bound(upper), running))
            result.append(
                HistogramCounts(
                    system=system,
                    dry_run=dry_run,
                    buckets=tuple(buckets),
                    total=int(raw.get("count", 0)),
                    sum_seconds=float(raw.get("sum", 0.0)),
                    succeeded=int(raw.get("succeeded", 0)),
                )
            )
        return result
