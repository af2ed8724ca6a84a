"""Trends over time: completions and success rate per time bucket, per system.

Acting jobs only, like the success rate of :mod:`service.outcomes.metrics`. A window is cut into
equal buckets whose edges are aligned to the bucket size, so the buckets stay put between two
refreshes of the dashboard, and each is a sum of the read model's buckets (minutes, hours or
days: :mod:`service.outcomes.read_model`), so a 30-day chart costs what a 1-hour chart costs:

========  ===========  ==========
window    buckets      each
========  ===========  ==========
``1h``    12           5 minutes
``1d``    24           1 hour
``7d``    28           6 hours
``30d``   30           1 day
========  ===========  ==========

:func:`bucket_completions` (pure) counts stream rows the same way; the tests use it as the
reference the bucket sums of :func:`read_trends` must equal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

from flags.model import System
from service.outcomes.metrics import WINDOWS
from service.outcomes.read_model import ReadModel
from service.outcomes.records import CompletionRecord

__all__ = ["BUCKETS", "Bucket", "Trends", "bucket_completions", "read_trends"]

BUCKETS: dict[str, int] = {"1h": 12, "1d": 24, "7d": 28, "30d": 30}


@dataclass(frozen=True, slots=True)
class Bucket:
    start: float  # unix seconds, inclusive
    end: float  # exclusive
    successes: int = 0
    trials: int = 0

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None


@dataclass(frozen=True, slots=True)
class Trends:
    window: str
    bucket_seconds: float
    series: dict[System, list[Bucket]]

    @property
    def starts(self) -> list[float]:
        return [bucket.start for bucket in self.series[System.TYPESCRIPT]]

    @property
    def empty(self) -> bool:
        return all(bucket.trials == 0 for buckets in self.series.values() for bucket in buckets)


def _edges(window: str, now: float) -> tuple[float, float, int]:
    """The first bucket's start, the bucket size and the count of ``window``."""
    span, count = WINDOWS[window], BUCKETS[window]
    size = span / count
    end = (math.floor(now / size) + 1) * size  # the bucket holding ``now`` is the last one
    return end - span, size, count


def bucket_completions(rows: Iterable[CompletionRecord], *, window: str, now: float) -> Trends:
    """Acting completions of ``rows`` counted into the window's buckets, per system."""
    start, size, count = _edges(window, now)
    end = start + size * count
    tallies = {system: [[0, 0] for _ in range(count)] for system in System}
    for row in rows:
        if not row.acting or not start <= row.at < end:
            continue
        slot = tallies[row.system][int((row.at - start) // size)]
        slot[0] += row.success
        slot[1] += 1
    series = {
        system: [
            Bucket(start + i * size, start + (i + 1) * size, successes, trials)
            for i, (successes, trials) in enumerate(slots)
        ]
        for system, slots in tallies.items()
    }
    return Trends(window=window, bucket_seconds=size, series=series)


async def read_trends(
    redis: Redis, *, prefix: str, window: str = "1d", now: float | None = None
) -> Trends:
    """The trends of ``window`` (a key of :data:`BUCKETS`), summed from the read model."""
    moment = time.time() if now is None else now
    start, size, count = _edges(window, moment)
    fields = [f"{system.value}:acting:{counter}" for system in System for counter in ("ok", "n")]
    model = ReadModel(redis, prefix=prefix, clock=lambda: moment)
    sums = await model.series(start, size, count, fields=fields)
    series = {
        system: [
            Bucket(
                start + i * size,
                start + (i + 1) * size,
                counts.get(f"{system.value}:acting:ok", 0),
                counts.get(f"{system.value}:acting:n", 0),
            )
            for i, counts in enumerate(sums)
        ]
        for system in System
    }
    return Trends(window=window, bucket_seconds=size, series=series)
