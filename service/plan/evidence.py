"""The plan step's evidence: both systems' acting outcomes since the step started.

:class:`EvidenceSource` is what the controller needs. :class:`StreamFold` implements it with an
incremental fold kept in Redis: each read adds only the outcome-stream entries recorded since the
last read (a cursor per stream) to counters of the step, so a tick costs the new entries, never
a scan of the whole history. A new step start (a different ``since``) resets the counters and
sets the cursors to that moment (a cursor is the next ``XRANGE``'s lower bound: inclusive at
the step's start, then exclusive after the last entry read). Only the watchdog leader reads it.
"""

from __future__ import annotations

from typing import Protocol

from redis.asyncio import Redis

from flags.model import System
from service.keys import Keys
from service.outcomes.records import (
    ComparisonRecord,
    CompletionRecord,
    QualityRecord,
    R,
    read_entries,
)
from service.outcomes.stats import Rate
from service.plan.decision import Rates, StepEvidence

__all__ = ["EvidenceSource", "StreamFold"]

_BATCH = 5_000
_COUNTERS = ("success", "pr", "build")


class EvidenceSource(Protocol):
    async def since(self, start: float) -> StepEvidence:
        """Both systems' acting outcomes recorded at or after ``start`` (epoch seconds)."""
        ...


class StreamFold:
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        keys = Keys(prefix)
        self._completions = keys.completions
        self._quality = keys.quality
        self._key = keys.plan_fold

    async def since(self, start: float) -> StepEvidence:
        stored = await self._redis.hgetall(self._key) or {}
        state = {str(name): str(value) for name, value in stored.items()}
        fresh = state.get("since") != repr(start)
        if fresh:
            first = f"{int(start * 1000)}-0"
            state = {"since": repr(start), "cursor:completions": first, "cursor:quality": first}
        counts = {name: int(value) for name, value in state.items() if name[:2] in ("n:", "s:")}
        state["cursor:completions"] = await self._fold(
            self._completions, state["cursor:completions"], counts, CompletionRecord
        )
        state["cursor:quality"] = await self._fold(
            self._quality, state["cursor:quality"], counts, QualityRecord
        )
        mapping: dict[str, str | int] = {**state, **counts}
        async with self._redis.pipeline(transaction=True) as pipe:
            if fresh:  # the previous step's counters go
                pipe.delete(self._key)
            pipe.hset(self._key, mapping=mapping)  # type: ignore[arg-type]
            await pipe.execute()
        return StepEvidence(_rates(counts, System.PYTHON), _rates(counts, System.TYPESCRIPT))

    async def _fold(self, stream: str, lower: str, counts: dict[str, int], kind: type[R]) -> str:
        """Add the entries from ``lower`` on to ``counts``; the next read's lower bound."""
        while True:
            entries = await read_entries(self._redis, stream, kind, low=lower, count=_BATCH)
            for entry_id, record in entries:
                for name, success in _classify(record):
                    counts[f"n:{name}"] = counts.get(f"n:{name}", 0) + 1
                    counts[f"s:{name}"] = counts.get(f"s:{name}", 0) + success
                lower = f"({entry_id!s}"  # exclusive: the next read starts after this entry
            if len(entries) < _BATCH:
                return lower


def _classify(
    record: CompletionRecord | QualityRecord | ComparisonRecord | None,
) -> list[tuple[str, bool]]:
    """The step counters an entry adds to: acting completions, closed PRs, concluded builds."""
    if isinstance(record, CompletionRecord) and record.acting:
        return [(f"{record.system.value}:success", record.success)]
    if isinstance(record, QualityRecord) and (record.is_pr or record.is_build):
        kind = "pr" if record.is_pr else "build"
        return [(f"{record.system.value}:{kind}", record.success)]
    return []


def _rates(counts: dict[str, int], system: System) -> Rates:
    def tally(name: str) -> Rate:
        key = f"{system.value}:{name}"
        return Rate(counts.get(f"s:{key}", 0), counts.get(f"n:{key}", 0))

    return Rates(*(tally(name) for name in _COUNTERS))
