"""The watchdog's evidence by a full scan of the outcome streams: the reference the incremental
fold (:mod:`service.watchdog.fold`, what the watchdog runs) must equal, row for row.

Counts are accumulated from a fixed start (``since``, the watchdog's evidence epoch), which the
confidence sequences of :mod:`service.watchdog.verdict` assume: the beginning of the recorded
history,
until a human leaves an emergency rollback, which restarts the evidence from that moment. The
drift statistic is replayed over the completions in the order they arrived, each python
completion compared with typescript's counts at that moment.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from flags.model import System
from service.keys import Keys
from service.outcomes.buckets import bin_of, quantile
from service.outcomes.records import CompletionRecord, QualityRecord, read_records
from service.outcomes.stats import Rate
from service.watchdog.verdict import (
    Drift,
    Durations,
    Evidence,
    Policy,
    SystemEvidence,
    track,
)

__all__ = ["gather_evidence"]


def _tally(rows: Sequence[CompletionRecord | QualityRecord]) -> Rate:
    return Rate(sum(row.success for row in rows), len(rows))


def _durations(rows: list[CompletionRecord], policy: Policy) -> Durations:
    """Count, histogram p50 (as the fold keeps it) and count above the ceiling."""
    histogram: dict[int, int] = {}
    seconds = [max(row.duration_seconds, 0.0) for row in rows]
    for value in seconds:
        histogram[bin_of(value)] = histogram.get(bin_of(value), 0) + 1
    above = sum(value > policy.duration_ceiling_seconds for value in seconds)
    return Durations(len(seconds), quantile(histogram, 0.5), above)


async def gather_evidence(
    redis: Redis, *, prefix: str, since: float, policy: Policy, python_health_failures: int
) -> Evidence:
    keys = Keys(prefix)
    recorded = await read_records(redis, keys.completions, CompletionRecord, since=since)
    completions = [row for row in recorded if row.acting]
    quality = await read_records(redis, keys.quality, QualityRecord, since=since)
    drift = Drift()
    typescript_so_far = Rate()
    for row in completions:
        success = row.success
        if row.system is System.TYPESCRIPT:
            typescript_so_far = Rate(
                typescript_so_far.successes + success, typescript_so_far.trials + 1
            )
        else:
            drift = track(drift, success=success, baseline=typescript_so_far, policy=policy)

    def system_evidence(system: System, health_failures: int) -> SystemEvidence:
        own = [row for row in completions if row.system is system]
        return SystemEvidence(
            success=_tally(own),
            build=_tally([r for r in quality if r.system is system and r.is_build]),
            pr=_tally([r for r in quality if r.system is system and r.is_pr]),
            durations=_durations(own, policy),
            health_failures=health_failures,
        )

    return Evidence(
        python=system_evidence(System.PYTHON, python_health_failures),
        typescript=system_evidence(System.TYPESCRIPT, 0),
        drift=drift,
    )
