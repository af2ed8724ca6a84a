"""The gauges the alert rules of ``deploy/prometheus/alerts.yml`` watch, from a status snapshot.

* ``switchyard_watchdog_last_tick_timestamp_seconds``: when the leading watchdog last finished a
  tick (absent until one has);
* ``switchyard_health_consecutive_failures{component}``: the health monitor's failures in a row;
* ``switchyard_flags_last_fetch_timestamp_seconds``: when this process last fetched the flags it
  routes with (absent until it has).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily

__all__ = ["operations_families"]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def operations_families(status: Mapping[str, Any]) -> Iterator[GaugeMetricFamily]:
    last_tick = _number(status.get("watchdog", {}).get("last_tick"))
    if last_tick is not None:
        tick = GaugeMetricFamily(
            "switchyard_watchdog_last_tick_timestamp_seconds",
            "Unix time the leading watchdog last finished a tick",
        )
        tick.add_metric([], last_tick)
        yield tick
    failures = GaugeMetricFamily(
        "switchyard_health_consecutive_failures",
        "Failed health checks in a row, per component (health monitor)",
        labels=["component"],
    )
    for name, result in sorted(status.get("health_history", {}).items()):
        failures.add_metric([name], float(result.get("consecutive_failures", 0)))
    yield failures
    fetched = _number(status.get("health", {}).get("flags", {}).get("last_success"))
    if fetched is not None:
        flags = GaugeMetricFamily(
            "switchyard_flags_last_fetch_timestamp_seconds",
            "Unix time this process last fetched the flags it routes with",
        )
        flags.add_metric([], fetched)
        yield flags
