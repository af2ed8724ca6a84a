"""The demo's plan and report, and how it reads numbers out of ``/migration/status``: pure
helpers of :mod:`service.devtools.demo`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from flags.model import System

__all__ = [
    "TABLE_METRICS",
    "DemoPlan",
    "DemoReport",
    "comparison_lines",
    "completed",
    "delta",
    "percent",
    "quality_samples",
    "short_rate",
]


@dataclass(frozen=True, slots=True)
class DemoPlan:
    repository: str = "acme/webshop"
    issues_per_phase: int = 20
    rollout_steps: tuple[int, ...] = (10, 25, 50, 75)
    typescript_success: float = 0.80
    python_success: float = 0.92
    degraded_success: float = 0.30
    latency_ms: int = 300
    pace_seconds: float = 0.1  # between deliveries, so a person can watch the dashboard
    degraded_batch: int = 10
    max_degraded_issues: int = 400
    handed_back_sample: int = 30
    merge_rates: tuple[float, float] = (0.55, 0.85)  # typescript, python: PRs merged
    build_rates: tuple[float, float] = (0.70, 0.92)  # typescript, python: CI passing
    seed: int = 7
    settle_seconds: float = 90.0  # longest wait for a phase's completions or the rollback


@dataclass
class DemoReport:
    phases: list[dict[str, Any]] = field(default_factory=list)
    rolled_back: bool = False
    rollback: dict[str, Any] | None = None
    after_rollback: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def completed(status: dict[str, Any], *, shadow: bool) -> int:
    return sum(int(row["total"]) for row in status["completions"] if row["dry_run"] is shadow)


def delta(after: dict[str, int], before: dict[str, int], key: str) -> int:
    return int(after.get(key, 0)) - int(before.get(key, 0))


def quality_samples(status: dict[str, Any]) -> int:
    comparison = status["comparison"]
    return sum(
        int(comparison[system.value][metric]["n"])
        for system in System
        for metric in ("pr_acceptance_rate", "build_success_rate")
    )


TABLE_METRICS = (
    ("success", "success_rate"),
    ("PRs merged", "pr_acceptance_rate"),
    ("builds green", "build_success_rate"),
)


def short_rate(rate: dict[str, Any]) -> str:
    return "-" if rate["estimate"] is None else f"{rate['estimate']:.0%} of {rate['n']}"


def comparison_lines(comparison: dict[str, Any]) -> list[str]:
    """The side-by-side comparison as a few aligned lines."""
    header = "".join(f"{title:<16}" for title in ("", *(t for t, _ in TABLE_METRICS)))
    lines = [("   " + header).rstrip()]
    for system in System:
        cells = [short_rate(comparison[system.value][metric]) for _, metric in TABLE_METRICS]
        lines.append(("   " + "".join(f"{c:<16}" for c in (system.value, *cells))).rstrip())
    return lines


def percent(rate: dict[str, Any]) -> str:
    if rate["estimate"] is None:
        return "n/a (no samples)"
    low, high = rate["ci95"]
    return (
        f"{rate['estimate']:.0%} of {rate['n']} (95% CI {low:.0%}-{high:.0%})"
        if rate["n"]
        else "n/a"
    )
