"""The delivery reconciler in ``/metrics``, from the status snapshot's ``reconciler`` block.

* ``switchyard_reconciler_events_total{outcome}``: events GitHub failed to deliver that were
  ``gap_found`` (missing from Switchyard; each event counted once), ``redelivered`` (GitHub
  accepted the redelivery) or ``already_stored`` (GitHub saw a failure, Switchyard had it);
* ``switchyard_reconciler_stops_total{reason}``: hook runs stopped early, ``refused`` (GitHub's
  422) or ``interrupted`` (rate limit outlasted, GitHub or Redis down);
* ``switchyard_reconciler_runs_total``;
* ``switchyard_reconciler_last_run_timestamp_seconds``, ``..._last_run_gap`` (events missing at
  the last run) and ``..._last_run_complete`` (1 when every hook was reconciled to the end);
* per hook (Switchyard's own, and each gated App's ``app:<system>``):
  ``switchyard_reconciler_hook_gap{hook}`` and ``..._hook_redelivered{hook}`` at the last run,
  and ``switchyard_reconciler_hook_reconciled_timestamp_seconds{hook}``, the hook's cursor (the
  start of its last complete run).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

__all__ = ["reconciler_families"]


def reconciler_families(status: Mapping[str, Any]) -> Iterator[Any]:
    block = status.get("reconciler") or {}
    counts: Mapping[str, int] = block.get("counts") or {}
    events = CounterMetricFamily(
        "switchyard_reconciler_events",
        "Undelivered GitHub events the reconciler found, by outcome",
        labels=["outcome"],
    )
    for outcome in ("gap_found", "redelivered", "already_stored"):
        events.add_metric([outcome], float(counts.get(outcome, 0)))
    yield events
    stops = CounterMetricFamily(
        "switchyard_reconciler_stops", "Hook runs stopped early, by reason", labels=["reason"]
    )
    for reason in ("refused", "interrupted"):
        stops.add_metric([reason], float(counts.get(reason, 0)))
    yield stops
    runs = CounterMetricFamily("switchyard_reconciler_runs", "Reconciler runs")
    runs.add_metric([], float(counts.get("runs", 0)))
    yield runs
    last = block.get("last_run")
    if isinstance(last, dict):
        for name, help_text, value in (
            ("timestamp_seconds", "Unix time the last reconciler run started", last["started"]),
            ("gap", "Events missing from Switchyard at the last run", last["gap"]),
            ("complete", "1 when the last run reconciled every hook", int(last["complete"])),
        ):
            gauge = GaugeMetricFamily(f"switchyard_reconciler_last_run_{name}", help_text)
            gauge.add_metric([], float(value))
            yield gauge
    yield from _per_hook(last, block.get("reconciled_to") or {})


def _per_hook(last: object, cursors: Mapping[str, float]) -> Iterator[Any]:
    gap = GaugeMetricFamily(
        "switchyard_reconciler_hook_gap",
        "Events missing from Switchyard at the last run, per hook",
        labels=["hook"],
    )
    redelivered = GaugeMetricFamily(
        "switchyard_reconciler_hook_redelivered",
        "Events redelivered at the last run, per hook",
        labels=["hook"],
    )
    hooks = (last.get("hooks") or []) if isinstance(last, dict) else []
    for hook in hooks:
        gap.add_metric([str(hook["hook"])], float(hook["gap"]))
        redelivered.add_metric([str(hook["hook"])], float(hook["redelivered"]))
    reconciled = GaugeMetricFamily(
        "switchyard_reconciler_hook_reconciled_timestamp_seconds",
        "Start of each hook's last complete reconciler run (its cursor)",
        labels=["hook"],
    )
    for name, moment in sorted(cursors.items()):
        reconciled.add_metric([name], float(moment))
    yield from (gap, redelivered, reconciled)
