"""Per-system metrics over sliding windows, read from the read model in Redis.

Windows: the last hour, day, week and 30 days, or everything since a moment (the watchdog's
evidence epoch), each a sum of pre-aggregated buckets (:mod:`service.outcomes.read_model`), so a
read costs the same at ten or a million completions; and the last N completions (one bounded
``XREVRANGE``). For each system:

* success rate: acting (not dry-run) completions that succeeded;
* duration: p50 and p95 of acting completions, seconds (over buckets: from the summed duration
  histogram, within a bin's width, about 9 %, of the exact quantile);
* PR acceptance: pull requests merged / closed, attributed to the system owning the issue;
* build success: check suites that passed (one conclusion per CI app per pushed commit; check
  runs are single jobs and workflow runs repeat the Actions check suite, so counting them too
  would weigh a build by how many jobs it has);
* shadow mismatch rate: comparisons of this system's runs with the other's that disagreed.

Every rate carries its sample size and a 95 % Wilson interval; the python - typescript
difference of a rate carries Newcombe's interval (the hybrid score interval built from the two
Wilson intervals).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from flags.model import System
from service.keys import Keys
from service.outcomes.buckets import Counts, histogram_of, quantile
from service.outcomes.read_model import ReadModel
from service.outcomes.records import (
    ComparisonRecord,
    CompletionRecord,
    QualityRecord,
    read_records,
)
from service.outcomes.stats import Rate

__all__ = [
    "WINDOWS",
    "SystemMetrics",
    "compare",
    "comparison_table",
    "metrics_from_counts",
    "read_metrics",
]

WINDOWS: dict[str, float] = {
    "1h": 3600.0,
    "1d": 86400.0,
    "7d": 7 * 86400.0,
    "30d": 30 * 86400.0,
}


@dataclass(frozen=True, slots=True)
class SystemMetrics:
    system: System
    window: str
    success: Rate
    pr_acceptance: Rate
    build_success: Rate
    shadow_mismatch: Rate
    duration_p50: float | None
    duration_p95: float | None
    durations_n: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system.value,
            "window": self.window,
            "success_rate": self.success.as_dict(),
            "pr_acceptance_rate": self.pr_acceptance.as_dict(),
            "build_success_rate": self.build_success.as_dict(),
            "shadow_mismatch_rate": self.shadow_mismatch.as_dict(),
            "duration_seconds": {
                "p50": self.duration_p50,
                "p95": self.duration_p95,
                "n": self.durations_n,
            },
        }


def compare(python: Rate, typescript: Rate) -> dict[str, Any]:
    """python - typescript, with Newcombe's 95 % interval (None when either has no data)."""
    if python.estimate is None or typescript.estimate is None:
        return {"difference": None, "ci95": None}
    (l1, u1), (l2, u2) = python.interval, typescript.interval
    p1, p2 = python.estimate, typescript.estimate
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return {"difference": difference, "ci95": [max(-1.0, low), min(1.0, high)]}


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def metrics_from_counts(counts: Counts, *, label: str) -> dict[System, SystemMetrics]:
    """Both systems' metrics from summed bucket counters."""
    result = {}

    def rate(system: System, good: str, total: str, roles: tuple[str, ...] = ("acting",)) -> Rate:
        own = [f"{system.value}:{role}:" for role in roles]
        return Rate(
            sum(counts.get(head + good, 0) for head in own),
            sum(counts.get(head + total, 0) for head in own),
        )

    for system in System:
        histogram = histogram_of(counts, system, "acting")
        result[system] = SystemMetrics(
            system=system,
            window=label,
            success=rate(system, "ok", "n"),
            pr_acceptance=rate(system, "merged", "pr"),
            build_success=rate(system, "green", "build"),
            shadow_mismatch=rate(system, "miss", "cmp", ("acting", "shadow")),
            duration_p50=quantile(histogram, 0.50),
            duration_p95=quantile(histogram, 0.95),
            durations_n=sum(histogram.values()),
        )
    return result


async def read_metrics(
    redis: Redis,
    *,
    prefix: str,
    window: str = "1d",
    last_n: int | None = None,
    since: float | None = None,
    now: float | None = None,
) -> dict[System, SystemMetrics]:
    """Both systems' metrics over ``window`` (a key of :data:`WINDOWS`), everything ``since``
    a moment (label ``since``), or the last N rows of each stream (a bounded scan)."""
    if last_n is None:
        moment = time.time() if now is None else now
        start = since if since is not None else moment - WINDOWS[window]
        counts = await ReadModel(redis, prefix=prefix).window(start, now=moment)
        return metrics_from_counts(counts, label="since" if since is not None else window)
    label = f"last {last_n}"
    keys = Keys(prefix)
    completions = await read_records(redis, keys.completions, CompletionRecord, last_n=last_n)
    quality = await read_records(redis, keys.quality, QualityRecord, last_n=last_n)
    comparisons = await read_records(redis, keys.comparisons, ComparisonRecord, last_n=last_n)
    result = {}
    for system in System:
        acting = [row for row in completions if row.system is system and row.acting]
        durations = sorted(row.duration_seconds for row in acting)
        prs = [row for row in quality if row.system is system and row.is_pr]
        builds = [row for row in quality if row.system is system and row.is_build]
        compared = [row for row in comparisons if row.involves(system)]
        result[system] = SystemMetrics(
            system=system,
            window=label,
            success=Rate(sum(row.success for row in acting), len(acting)),
            pr_acceptance=Rate(sum(row.success for row in prs), len(prs)),
            build_success=Rate(sum(row.success for row in builds), len(builds)),
            shadow_mismatch=Rate(sum(not row.match for row in compared), len(compared)),
            duration_p50=_quantile(durations, 0.50),
            duration_p95=_quantile(durations, 0.95),
            durations_n=len(durations),
        )
    return result


def comparison_table(metrics: dict[System, SystemMetrics]) -> dict[str, Any]:
    """Side by side, with the python - typescript difference of each rate."""
    python, typescript = metrics[System.PYTHON], metrics[System.TYPESCRIPT]
    rates = ("success", "pr_acceptance", "build_success", "shadow_mismatch")
    return {
        "window": python.window,
        "python": python.as_dict(),
        "typescript": typescript.as_dict(),
        "difference": {
            name: compare(getattr(python, name), getattr(typescript, name)) for name in rates
        },
    }
