"""What the reconciler keeps in Redis: how far each hook is reconciled, its counters, claims.

Keys (:mod:`service.keys`):

=====================================  ======================================================
``Keys.reconciler_since``              hash: hook -> start time of its last complete run
``Keys.reconciler_counts``             hash: ``gap_found``, ``redelivered``, ``already_stored``,
                                       ``refused`` (GitHub's 422), ``interrupted`` (rate limit
                                       or GitHub down), ``runs``
``Keys.reconciler_last_run``           the last run's report (JSON), for status and dashboard
``Keys.reconciler_gap(guid)``          set once per missing event, so ``gap_found`` counts
                                       each event once however many runs see it (4 days)
``Keys.reconciler_claim(guid)``        a redelivery under way (10 minutes): two reconcilers
                                       (the periodic one, an operator's) never both ask
``Keys.reconciler_leader``             the lease of the periodic reconciler (:mod:`service.leases`)
=====================================  ======================================================

Reads for the dashboard and ``/metrics`` are three: the counters hash, the last report and the
cursors hash (one field per hook).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from redis.asyncio import Redis

from service.keys import Keys

__all__ = ["COUNTERS", "Ledger", "leader_key"]

COUNTERS = ("gap_found", "redelivered", "already_stored", "refused", "interrupted", "runs")
_GAP_SECONDS = 4 * 24 * 3600  # longer than GitHub's redelivery window
_CLAIM_SECONDS = 600


def leader_key(prefix: str) -> str:
    return Keys(prefix).reconciler_leader


class Ledger:
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._keys = Keys(prefix)

    async def last_complete(self, hook: str) -> float | None:
        raw = await self._redis.hget(self._keys.reconciler_since, hook)
        return float(raw) if raw is not None else None

    async def set_complete(self, hook: str, started: float) -> None:
        await self._redis.hset(self._keys.reconciler_since, hook, repr(started))

    async def new_gaps(self, guids: list[str]) -> int:
        """Count the events not counted before as found; how many were new."""
        if not guids:
            return 0
        async with self._redis.pipeline(transaction=False) as pipe:
            for guid in guids:
                pipe.set(self._keys.reconciler_gap(guid), "1", nx=True, ex=_GAP_SECONDS)
            fresh = sum(1 for created in await pipe.execute() if created)
        if fresh:
            await self.count("gap_found", fresh)
        return fresh

    async def claim(self, guid: str) -> bool:
        created = await self._redis.set(
            self._keys.reconciler_claim(guid), "1", nx=True, ex=_CLAIM_SECONDS
        )
        return bool(created)

    async def claimed(self, guids: list[str]) -> set[str]:
        if not guids:
            return set()
        marks = await self._redis.mget([self._keys.reconciler_claim(g) for g in guids])
        return {g for g, mark in zip(guids, marks, strict=True) if mark is not None}

    async def release(self, guid: str) -> None:
        await self._redis.delete(self._keys.reconciler_claim(guid))

    async def count(self, counter: str, amount: int = 1) -> None:
        if amount:
            await self._redis.hincrby(self._keys.reconciler_counts, counter, amount)

    async def totals(self) -> dict[str, int]:
        raw = await self._redis.hgetall(self._keys.reconciler_counts)
        return {name: int(raw.get(name, 0)) for name in COUNTERS}

    async def save_report(self, report: dict[str, Any]) -> None:
        await self._redis.set(self._keys.reconciler_last_run, json.dumps(report))

    async def reconciled_to(self) -> dict[str, float]:
        """Each hook's cursor: the start of its last complete run (unix seconds)."""
        raw = await self._redis.hgetall(self._keys.reconciler_since)
        return {str(hook): float(moment) for hook, moment in raw.items()}

    async def summary(self) -> dict[str, Any]:
        """Counters, the last run and each hook's cursor, for ``/migration/status``, the
        dashboard and ``/metrics`` (three reads, concurrently)."""
        totals, last_run, cursors = await asyncio.gather(
            self.totals(), self.last_report(), self.reconciled_to()
        )
        return {"counts": totals, "last_run": last_run, "reconciled_to": cursors}

    async def last_report(self) -> dict[str, Any] | None:
        raw = await self._redis.get(self._keys.reconciler_last_run)
        if raw is None:
            return None
        report = json.loads(raw)
        return report if isinstance(report, dict) else None
