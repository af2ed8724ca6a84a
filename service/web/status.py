"""``GET /migration/status`` (JSON) and ``GET /metrics`` (Prometheus text).

Both read the same things, and only read (no agent, no Unleash call per request): the
migration's state from the flags this process routes with (their revision and fetch time), owner
counts, the health monitor's last result for every component, the side-by-side comparison (read
model buckets), recent transitions, routing and webhook counters, the queue, dead letters and the
watchdog's last state; the status also lists recent routed issues, shadow mismatches and dead
letters (:mod:`service.outcomes.recent`).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flags.model import System
from service.github.reconciler.ledger import Ledger
from service.health.monitor import read_health, recorded_health
from service.migration.audit import AuditTrail
from service.migration.brake import OVERRIDE_TEXT, Brake
from service.migration.routed_flags import routed_state
from service.outcomes.from_github import outcome_sources
from service.outcomes.histogram import DurationHistogram, HistogramCounts
from service.outcomes.metrics import WINDOWS, comparison_table, read_metrics
from service.outcomes.recent import read_recent
from service.pipeline.stream import EventStream
from service.routing.ownership import OwnershipStore
from service.routing.router import RoutingCounters
from service.runtime import Runtime
from service.watchdog.loop import describe_state
from service.web.intake_errors import intake_error_family
from service.web.ops_metrics import operations_families
from service.web.reconciler_metrics import reconciler_families
from service.web.webhooks import counts_key

__all__ = ["ROUTES", "collect_status"]


async def collect_status(runtime: Runtime, *, window: str = "1d") -> dict[str, Any]:
    status, _ = await _collect(runtime, window=window)
    return status


async def _collect(
    runtime: Runtime, *, window: str
) -> tuple[dict[str, Any], list[HistogramCounts]]:
    """The status, and the completion counters it lists, read once for both endpoints."""
    settings = runtime.settings
    completions = await DurationHistogram(runtime.redis, prefix=runtime.prefix).read()
    recorded = await read_health(runtime.redis, prefix=runtime.prefix)
    health = recorded_health(recorded)  # the monitor's last results: a read never probes
    health["flags"] = {
        "healthy": runtime.provider.freshness() != "error",
        **runtime.provider.stats.as_dict(),
    }
    state: dict[str, Any] = routed_state(runtime.provider)  # the flags this process routes with
    override = await Brake(runtime.redis, prefix=runtime.prefix).read()
    if override is not None and override.pending and not state.get("kill_switch"):
        state = {**state, "kill_switch": True, "kill_switch_text": OVERRIDE_TEXT}
        state.setdefault("mode", "emergency_rollback")
    owners = await OwnershipStore(runtime.redis, prefix=runtime.prefix).counts()
    metrics = await read_metrics(runtime.redis, prefix=runtime.prefix, window=window)
    watchdog = await runtime.redis.hgetall(runtime.keys.watchdog_state)
    return {
        "at": time.time(),
        **state,
        "override": override.as_dict() if override is not None else None,
        "owners": {system.value: count for system, count in owners.items()},
        "health": health,
        "comparison": {
            **comparison_table(metrics),
            "sources": outcome_sources(settings.systems, settings.outcome_deadline_seconds),
        },
        "recent_transitions": [
            entry.as_dict()
            for entry in await AuditTrail(runtime.redis, prefix=runtime.prefix).recent(10)
        ],
        "routing": await RoutingCounters(runtime.redis, prefix=runtime.prefix).read(),
        "webhooks": {
            str(k): int(v)
            for k, v in (await runtime.redis.hgetall(counts_key(runtime.prefix))).items()
        },
        "queue": await EventStream(runtime.redis, prefix=runtime.prefix).depth(),
        "watchdog": describe_state({str(k): str(v) for k, v in watchdog.items()}, now=time.time()),
        "health_history": recorded,
        "completions": [
            {**dataclasses.asdict(counts), "system": counts.system.value} for counts in completions
        ],
        "recent": await read_recent(runtime.redis, prefix=runtime.prefix),
        "reconciler": await Ledger(runtime.redis, prefix=runtime.prefix).summary(),
    }, completions


async def migration_status(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    window = request.query_params.get("window", "1d")
    if window not in WINDOWS:
        return JSONResponse({"error": "window must be 1h, 1d, 7d or 30d"}, status_code=400)
    return JSONResponse(await collect_status(runtime, window=window))


class _Snapshot(Collector):
    """Prometheus families built from one status snapshot."""

    def __init__(self, status: dict[str, Any], completions: list[HistogramCounts]) -> None:
        self._status = status
        self._completions = completions

    def collect(self) -> Any:
        status = self._status
        routing = CounterMetricFamily(
            "switchyard_routing_decisions", "Routing decisions", labels=["kind"]
        )
        for key, value in sorted(status["routing"].items()):
            routing.add_metric([key], value)
        yield routing
        webhooks = CounterMetricFamily(
            "switchyard_webhooks", "Webhook outcomes", labels=["outcome"]
        )
        for key, value in sorted(status["webhooks"].items()):
            webhooks.add_metric([key], value)
        yield webhooks
        queue = GaugeMetricFamily("switchyard_queue", "Event stream depth", labels=["part"])
        for key, value in sorted(status["queue"].items()):
            queue.add_metric([key], value)
        yield queue
        owners = GaugeMetricFamily("switchyard_owned_issues", "Issues owned", labels=["system"])
        for key, value in sorted(status["owners"].items()):
            owners.add_metric([key], value)
        yield owners
        health = GaugeMetricFamily(
            "switchyard_component_healthy", "1 healthy, 0 not", labels=["component"]
        )
        for key, value in sorted(status["health"].items()):
            if value.get("healthy") is not None:
                health.add_metric([key], 1.0 if value["healthy"] else 0.0)
        yield health
        rates = GaugeMetricFamily(
            "switchyard_rate", "Rates over the window (estimate)", labels=["system", "metric"]
        )
        samples = GaugeMetricFamily(
            "switchyard_rate_samples", "Sample size of each rate", labels=["system", "metric"]
        )
        durations = GaugeMetricFamily(
            "switchyard_duration_seconds", "Completion duration quantiles", labels=["system", "q"]
        )
        for system in System:
            block = status["comparison"][system.value]
            for metric in (
                "success_rate",
                "pr_acceptance_rate",
                "build_success_rate",
                "shadow_mismatch_rate",
            ):
                if block[metric]["estimate"] is not None:
                    rates.add_metric([system.value, metric], block[metric]["estimate"])
                samples.add_metric([system.value, metric], block[metric]["n"])
            for q in ("p50", "p95"):
                if block["duration_seconds"][q] is not None:
                    durations.add_metric([system.value, q], block["duration_seconds"][q])
        yield rates
        yield samples
        yield durations
        yield from _completion_families(self._completions)
        yield from operations_families(status)
        yield from reconciler_families(status)
        if "kill_switch" in status:
            kill = GaugeMetricFamily(
                "switchyard_kill_switch", "1 when the kill switch (or its override) is on"
            )
            kill.add_metric([], 1.0 if status["kill_switch"] else 0.0)
            yield kill
        if isinstance(status.get("rollout_percentage"), int):
            rollout = GaugeMetricFamily("switchyard_rollout_percentage", "python's share")
            rollout.add_metric([], status["rollout_percentage"])
            yield rollout
        override = status.get("override")
        pending = GaugeMetricFamily(
            "switchyard_kill_switch_override",
            "1: kill switch ON (override, not yet in Unleash); the break-glass brake is pending",
        )
        pending.add_metric([], 1.0 if override and override["pending"] else 0.0)
        yield pending


class _Families(Collector):
    def __init__(self, families: list[Any]) -> None:
        self._families = families

    def collect(self) -> Any:
        yield from self._families


def _completion_families(rows: list[HistogramCounts]) -> Any:
    completed = CounterMetricFamily(
        "switchyard_completions",
        "Agent completions recorded (all time)",
        labels=["system", "role", "outcome"],
    )
    histogram = HistogramMetricFamily(
        "switchyard_completion_duration_seconds",
        "Agent run duration reported at completion (all time)",
        labels=["system", "role"],
    )
    for row in rows:
        role = "shadow" if row.dry_run else "acting"
        completed.add_metric([row.system.value, role, "success"], row.succeeded)
        completed.add_metric([row.system.value, role, "failure"], row.failed)
        histogram.add_metric(
            [row.system.value, role],
            [(bound, float(n)) for bound, n in row.buckets],
            row.sum_seconds,
        )
    yield completed
    yield histogram


async def prometheus_metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    registry = CollectorRegistry()
    registry.register(_Snapshot(*await _collect(runtime, window="1d")))
    intake_errors = getattr(request.app.state, "intake_errors", None)
    if intake_errors is not None:
        registry.register(_Families(list(intake_error_family(intake_errors))))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")


ROUTES = [
    Route("/migration/status", migration_status),
    Route("/metrics", prometheus_metrics),
]
