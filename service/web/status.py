"""``GET /migration/status`` (JSON) and ``GET /metrics`` (Prometheus text): the HTTP rendering
of the status read model (:mod:`service.status.snapshot`), which both read once per request.

The status names people, reasons, repositories and agents' errors: it needs a login (a bearer
token or the dashboard's session cookie, :mod:`service.dashboard.auth`); without one it answers
401 with ``WWW-Authenticate: Bearer`` before reading anything. ``/metrics`` takes its own
bearer token when ``SWITCHYARD_METRICS_TOKEN`` is set.
"""

from __future__ import annotations

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

from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG, System
from service.dashboard.replies import dashboard_auth
from service.dashboard.throttle import LoginThrottle
from service.outcomes.histogram import HistogramCounts
from service.outcomes.metrics import WINDOWS
from service.runtime import Runtime
from service.status.snapshot import collect_status, read_snapshot
from service.web.intake_errors import intake_error_family
from service.web.ops_metrics import operations_families
from service.web.reconciler_metrics import reconciler_families

__all__ = ["ROUTES"]


async def migration_status(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    await dashboard_auth(request).reader(request)  # AuthRefused: 401/429, the error table
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
        invalid = GaugeMetricFamily(
            "switchyard_flag_invalid",
            "1 when Switchyard cannot interpret the flag (the migration holds)",
            labels=["flag"],
        )
        bad = {problem["flag"] for problem in status.get("flag_problems", [])}
        for flag in (KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG):
            invalid.add_metric([flag], 1.0 if flag in bad else 0.0)
        yield invalid
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
    token = runtime.settings.metrics_token
    if token is not None:  # SWITCHYARD_METRICS_TOKEN: Prometheus sends it as a bearer token
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.matches(given.strip()):
            return JSONResponse(
                {"error": "/metrics needs the bearer token (SWITCHYARD_METRICS_TOKEN)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
    registry = CollectorRegistry()
    snapshot = await read_snapshot(runtime, window="1d")
    registry.register(_Snapshot(snapshot.status, snapshot.completions))
    logins = CounterMetricFamily(
        "switchyard_dashboard_logins", "Dashboard logins refused", labels=["outcome"]
    )
    counted = await LoginThrottle(runtime.redis, prefix=runtime.prefix).counts()
    for outcome in ("failed", "throttled"):
        logins.add_metric([outcome], counted.get(outcome, 0))
    registry.register(_Families([logins]))
    intake_errors = getattr(request.app.state, "intake_errors", None)
    if intake_errors is not None:
        registry.register(_Families(list(intake_error_family(intake_errors))))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")


ROUTES = [
    Route("/migration/status", migration_status),
    Route("/metrics", prometheus_metrics),
]
