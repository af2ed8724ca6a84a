"""What ``bench/history.py`` prints and keeps: one line per stage, the summary, the last line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["final_line", "stage_line", "summary"]


def stage_line(target: int, f: Mapping[str, Any]) -> str:
    scan = f["scan_status_ms"]
    scan_dog = f["scan_watchdog_ms"]
    return (
        f"  {target:>9,} completions ({f['events']:,} events, filled in {f['fill_s']} s): "
        f"status p95 {f['status']['p95']} ms (scan today: "
        f"{'no answer in 5 s' if scan is None else f'{scan} ms'}), metrics p95 "
        f"{f['metrics']['p95']} ms, panels p95 {f['panels']['p95']} ms, watchdog tick p95 "
        f"{f['watchdog_tick']['p95']} ms (catch-up {f['watchdog_catch_up_ms']} ms; scan today: "
        f"{'no answer in 5 s' if scan_dog is None else f'{scan_dog} ms'}), "
        f"{f['redis_bytes_per_event']} B/event; Redis commands / CPU ms per request: "
        + ", ".join(
            f"{name} {f[name]['redis_commands']} / {f[name]['redis_cpu_ms']}"
            for name in ("status", "metrics", "panels", "watchdog_tick")
        )
        + f"; load average {f['loadavg'][0]}"
    )


def summary(results: dict[str, Any], stages: tuple[int, ...]) -> dict[str, Any]:
    first, last = results["stages"][str(stages[0])], results["stages"][str(stages[-1])]
    p95 = {
        name: last[key]["p95"]
        for name, key in (
            ("status", "status"),
            ("metrics", "metrics"),
            ("panels", "panels"),
            ("watchdog_tick", "watchdog_tick"),
        )
    }
    ratios = {
        name: last[name]["p95"] / max(first[name]["p95"], 1e-9)
        for name in ("status", "metrics", "panels", "watchdog_tick")
    }
    figures = {
        "history_stages": results["stages"],
        **{f"history_{name}_p95_ms": value for name, value in p95.items()},
        "history_flat_ratio_max": round(max(ratios.values()), 2),
        "history_redis_bytes_per_event": last["redis_bytes_per_event"],
    }
    return figures


def final_line(figures: Mapping[str, Any]) -> str:
    return (
        f"history: status_p95_ms={figures['history_status_p95_ms']} "
        f"metrics_p95_ms={figures['history_metrics_p95_ms']} "
        f"panels_p95_ms={figures['history_panels_p95_ms']} "
        f"watchdog_tick_p95_ms={figures['history_watchdog_tick_p95_ms']} "
        f"flat_ratio_max={figures['history_flat_ratio_max']} "
        f"redis_bytes_per_event={figures['history_redis_bytes_per_event']}"
    )
