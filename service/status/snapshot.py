"""The status read model: one snapshot of the migration, shared by every reader.

``/migration/status`` (JSON), ``/metrics`` (Prometheus text, :mod:`service.web.status`), the
dashboard (:mod:`service.dashboard.route`) and ``switchyard status`` (:mod:`service.cli`) all
read :func:`read_snapshot`, so they show one shape. It only reads (no agent, no Unleash call):
the migration's state from the flags this process routes with (their revision and fetch time)
and the break-glass override, owner counts, the health monitor's last result for every
component, the side-by-side comparison (read model buckets) and where each system's outcomes
come from, recent transitions, routing and webhook counters, the queue, the watchdog's last
state, the completion counters, recent routed issues, shadow mismatches and dead letters
(:mod:`service.outcomes.recent`) and the delivery reconciler's summary.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from service.github.reconciler.ledger import Ledger
from service.health.monitor import read_health, recorded_health
from service.migration.audit import AuditTrail
from service.migration.brake import OVERRIDE_TEXT, Brake
from service.migration.routed_flags import routed_state
from service.outcomes.from_github import outcome_sources
from service.outcomes.histogram import DurationHistogram, HistogramCounts
from service.outcomes.metrics import comparison_table, read_metrics
from service.outcomes.recent import read_recent
from service.pipeline.stream import EventStream
from service.routing.ownership import OwnershipStore
from service.routing.router import RoutingCounters
from service.runtime import Runtime
from service.watchdog.loop import describe_state

__all__ = ["Snapshot", "collect_status", "read_snapshot"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The status, and the completion counters it lists (``/metrics`` exports them as
    histograms), read once."""

    status: dict[str, Any]
    completions: list[HistogramCounts]


async def collect_status(runtime: Runtime, *, window: str = "1d") -> dict[str, Any]:
    """The status of the migration, as ``/migration/status`` serves it."""
    return (await read_snapshot(runtime, window=window)).status


async def read_snapshot(runtime: Runtime, *, window: str = "1d") -> Snapshot:
    """Everything the status shows, read once from Redis and this process's flags."""
    settings = runtime.settings
    redis, prefix = runtime.redis, runtime.prefix
    # Independent reads, each one round trip (or one pipeline): all in flight at once.
    state_reads = asyncio.gather(
        DurationHistogram(redis, prefix=prefix).read(),
        read_health(redis, prefix=prefix),
        Brake(redis, prefix=prefix).read(),
        OwnershipStore(redis, prefix=prefix).counts(),
        read_metrics(redis, prefix=prefix, window=window),
        redis.hgetall(runtime.keys.watchdog_state),
    )
    activity_reads = asyncio.gather(
        AuditTrail(redis, prefix=prefix).recent(10),
        RoutingCounters(redis, prefix=prefix).read(),
        redis.hgetall(runtime.keys.webhook_counts),
        EventStream(redis, prefix=prefix).depth(),
        read_recent(redis, prefix=prefix),
        Ledger(redis, prefix=prefix).summary(),
    )
    (
        (completions, recorded, override, owners, metrics, watchdog),
        (transitions, routing, webhooks, queue, recent, reconciler),
    ) = await asyncio.gather(state_reads, activity_reads)
    health = recorded_health(recorded)  # the monitor's last results: a read never probes
    health["flags"] = {
        "healthy": runtime.provider.freshness() != "error",
        **runtime.provider.stats.as_dict(),
    }
    state: dict[str, Any] = routed_state(runtime.provider)  # the flags this process routes with
    state["flag_problems"] = [problem.as_dict() for problem in runtime.provider.problems()]
    if override is not None and override.pending and not state.get("kill_switch"):
        state = {**state, "kill_switch": True, "kill_switch_text": OVERRIDE_TEXT}
        state.setdefault("mode", "emergency_rollback")
    now = time.time()
    status = {
        "at": now,
        **state,
        "override": override.as_dict() if override is not None else None,
        "owners": {system.value: count for system, count in owners.items()},
        "health": health,
        "comparison": {
            **comparison_table(metrics),
            "sources": outcome_sources(settings.systems, settings.outcome_deadline_seconds),
        },
        "recent_transitions": [entry.as_dict() for entry in transitions],
        "routing": routing,
        "webhooks": {str(k): int(v) for k, v in webhooks.items()},
        "queue": queue,
        "watchdog": describe_state({str(k): str(v) for k, v in watchdog.items()}, now=now),
        "health_history": recorded,
        "completions": [_completion_row(counts) for counts in completions],
        "recent": recent,
        "reconciler": reconciler,
    }
    return Snapshot(status, completions)


def _completion_row(counts: HistogramCounts) -> dict[str, Any]:
    return {
        "system": counts.system.value,
        "dry_run": counts.dry_run,
        "buckets": counts.buckets,
        "total": counts.total,
        "sum_seconds": counts.sum_seconds,
        "succeeded": counts.succeeded,
    }
