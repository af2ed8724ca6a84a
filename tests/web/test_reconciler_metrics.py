from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from service.web.reconciler_metrics import reconciler_families


class _Fixed(Collector):
    def __init__(self, status: dict[str, object]) -> None:
        self._status = status

    def collect(self) -> Iterator[Any]:
        yield from reconciler_families(self._status)


def _exposition(status: dict[str, object]) -> str:
    registry = CollectorRegistry()
    registry.register(_Fixed(status))
    return generate_latest(registry).decode()


def test_counters_are_zero_before_any_run_and_no_last_run_gauges() -> None:
    text = _exposition({})
    assert 'switchyard_reconciler_events_total{outcome="gap_found"} 0.0' in text
    assert "switchyard_reconciler_runs_total 0.0" in text
    assert "last_run" not in text


def test_a_run_that_stopped_early_shows_in_the_gauges() -> None:
    counts = {"gap_found": 4, "redelivered": 2, "already_stored": 1, "refused": 1, "runs": 3}
    last = {"started": 1700000000.0, "gap": 4, "complete": False}
    text = _exposition({"reconciler": {"counts": counts, "last_run": last}})
    assert 'switchyard_reconciler_events_total{outcome="redelivered"} 2.0' in text
    assert 'switchyard_reconciler_stops_total{reason="refused"} 1.0' in text
    assert "switchyard_reconciler_last_run_gap 4.0" in text
    assert "switchyard_reconciler_last_run_complete 0.0" in text
    assert "switchyard_reconciler_last_run_timestamp_seconds 1.7e+09" in text
