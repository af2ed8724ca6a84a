"""The benchmarks' figures on disk and on screen.

:func:`write` keeps one run as ``bench/results/latest.json`` and a dated copy
``bench/results/<UTC timestamp>.json``; :func:`summary` is the table ``make bench`` ends with:
each figure, its baseline, the ratio, the target and whether it was met. Targets are goals to
watch, never asserted anywhere.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RESULTS", "Row", "rows", "summary", "write"]

RESULTS = Path(__file__).resolve().parent / "results"

# The keys every results file has (None when that benchmark did not run or failed).
REQUIRED = (
    "intake_ratio",
    "intake_p99_ms",
    "decision_cost_ratio",
    "propagation_p95_s_switchyard",
    "propagation_p95_s_addon",
    "propagation_p95_s_polling",
    "e2e_events_per_s_1_worker",
    "e2e_events_per_s_2_workers",
)


def write(figures: Mapping[str, Any], *, directory: Path = RESULTS) -> tuple[Path, Path]:
    """Write ``figures`` (with the required keys, None if missing); the two paths."""
    now = datetime.datetime.now(datetime.UTC)
    document = {key: figures.get(key) for key in REQUIRED}
    document.update(figures)
    document["generated_at"] = now.isoformat(timespec="seconds")
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=False, default=_plain) + "\n"
    latest = directory / "latest.json"
    dated = directory / f"{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    latest.write_text(text)
    dated.write_text(text)
    return latest, dated


def _plain(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    baseline: str
    ratio: str
    target: str
    met: str


def _get(figures: Mapping[str, Any], key: str) -> float | None:
    value = figures.get(key)
    return float(value) if isinstance(value, int | float) else None


def _fmt(value: float | None, unit: str, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f} {unit}".strip()


def _met(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "NO")


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def rows(figures: Mapping[str, Any]) -> list[Row]:
    """The summary table's rows for whatever ``figures`` holds."""
    g = _get
    out: list[Row] = []

    ratio = g(figures, "intake_ratio")
    out.append(
        Row(
            "intake max throughput",
            _fmt(g(figures, "intake_rps"), "req/s", 0),
            f"bare Starlette {_fmt(g(figures, 'intake_ceiling_rps'), 'req/s', 0)}",
            _fmt(ratio, "x"),
            ">= 0.5x",
            _met(None if ratio is None else ratio >= 0.5),
        )
    )
    floor = g(figures, "intake_xadd_floor_rps")
    out.append(
        Row(
            "  (same, vs one XADD)",
            _fmt(g(figures, "intake_rps"), "req/s", 0),
            f"bare + XADD {_fmt(floor, 'req/s', 0)}",
            _fmt(g(figures, "intake_ratio_to_xadd_floor"), "x"),
            "-",
            "-",
        )
    )
    p99 = g(figures, "intake_p99_ms")
    rate = g(figures, "intake_paced_rate") or 300
    out.append(
        Row(
            f"intake p99 at {rate:.0f} req/s",
            _fmt(p99, "ms"),
            f"bare Starlette {_fmt(g(figures, 'intake_ceiling_p99_ms_paced'), 'ms')}",
            _fmt(_ratio(p99, g(figures, "intake_ceiling_p99_ms_paced")), "x"),
            "<= 10 ms",
            _met(None if p99 is None else p99 <= 10),
        )
    )
    cost = g(figures, "decision_cost_ratio")
    out.append(
        Row(
            "routing decision (3 flags + route)",
            _fmt(g(figures, "decision_us"), "us"),
            f"raw is_enabled {_fmt(g(figures, 'decision_raw_is_enabled_us'), 'us')}",
            _fmt(cost, "x"),
            "<= 1.5x",
            _met(None if cost is None else cost <= 1.5),
        )
    )
    out.append(
        Row(
            "  (same, vs the raw 3-flag decision)",
            _fmt(g(figures, "decision_us"), "us"),
            f"raw decision {_fmt(g(figures, 'decision_raw_decision_us'), 'us')}",
            _fmt(g(figures, "decision_ratio_to_raw_decision"), "x"),
            "-",
            "-",
        )
    )
    out.append(
        Row(
            "  (one flag through OpenFeature)",
            _fmt(g(figures, "decision_openfeature_one_flag_us"), "us"),
            f"raw is_enabled {_fmt(g(figures, 'decision_raw_is_enabled_us'), 'us')}",
            _fmt(g(figures, "decision_openfeature_one_flag_ratio"), "x"),
            "-",
            "-",
        )
    )
    out.append(
        Row(
            "  (decision + Redis owner lookup)",
            _fmt(g(figures, "decision_routed_with_redis_us"), "us"),
            "-",
            "-",
            "-",
            "-",
        )
    )
    polling = g(figures, "propagation_p95_s_polling")
    for path, target in (("switchyard", 0.1), ("addon", 1.0)):
        p95 = g(figures, f"propagation_p95_s_{path}")
        out.append(
            Row(
                f"propagation p95 via {path}",
                _fmt(p95, "s", 3),
                f"polling alone {_fmt(polling, 's', 3)}",
                _fmt(_ratio(p95, polling), "x"),
                f"<= {target:g} s",
                _met(None if p95 is None else p95 <= target),
            )
        )
    out.append(
        Row(
            "propagation p95 polling (1 s)",
            _fmt(polling, "s", 3),
            "poll interval 1.000 s",
            _fmt(polling, "x"),
            "-",
            "-",
        )
    )
    one = g(figures, "e2e_events_per_s_1_worker")
    two = g(figures, "e2e_events_per_s_2_workers")
    out.append(Row("e2e, 1 worker", _fmt(one, "events/s", 1), "-", "-", "-", "-"))
    out.append(
        Row(
            "e2e, 2 workers",
            _fmt(two, "events/s", 1),
            f"1 worker {_fmt(one, 'events/s', 1)}",
            _fmt(_ratio(two, one), "x"),
            "-",
            "-",
        )
    )
    return out


def summary(figures: Mapping[str, Any]) -> str:
    """The table as text."""
    header = Row("figure", "value", "baseline", "ratio", "target", "met")
    table = [header, *rows(figures)]
    columns = [column.name for column in dataclasses.fields(Row)]
    widths = [max(len(getattr(row, name)) for row in table) for name in columns]
    lines = []
    for index, row in enumerate(table):
        cells = [
            getattr(row, name).ljust(width) for name, width in zip(columns, widths, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)
