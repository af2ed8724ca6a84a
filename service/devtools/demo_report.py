"""The demo's settings and report, the compressed plan it starts, and how it reads numbers out
of ``/migration/status``: pure helpers of :mod:`service.devtools.demo`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from flags.model import System
from service.plan.model import Plan, parse_plan

__all__ = [
    "DemoPlan",
    "DemoReport",
    "completed",
    "delta",
    "evidence_line",
    "percent",
    "quality_samples",
]


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """What the demo plays. The rollout plan is the real one, with time compressed: a dwell of
    seconds and small samples instead of a day and hundreds, and a wider margin so those small
    samples can show non-inferiority (the production plan is ``flags/plan.json``)."""

    repository: str = "acme/webshop"
    steps: tuple[int, ...] = (10, 25, 50, 75, 100)
    degrade_at: int = 75  # python degrades once the plan has reached this step
    dwell_seconds: float = 2.0
    min_completions: int = 20  # acting python completions per step
    min_outcomes: int = 4  # python PR/CI outcomes per step
    min_rate_samples: int = 20
    margin: float = 0.2
    batch: int = 20  # issues per round; the plan decides between rounds
    typescript_success: float = 0.70
    python_success: float = 0.97
    degraded_success: float = 0.20
    latency_ms: int = 300
    pace_seconds: float = 0.05  # between deliveries, so a person can watch the dashboard
    max_issues_per_step: int = 1_000
    degraded_batch: int = 10
    max_degraded_issues: int = 400
    handed_back_sample: int = 30
    merge_rates: tuple[float, float] = (0.50, 0.90)  # typescript, python: PRs merged
    build_rates: tuple[float, float] = (0.60, 0.95)  # typescript, python: CI passing
    seed: int = 7
    settle_seconds: float = 90.0  # longest wait for a round's completions or the rollback

    def rollout_plan(self) -> Plan:
        """The plan the demo starts, validated like a plan file."""
        step = {
            "min_completions": self.min_completions,
            "min_outcomes": self.min_outcomes,
            "min_dwell_seconds": self.dwell_seconds,
        }
        return parse_plan(
            {
                "steps": [{"percentage": p, **step} for p in self.steps],
                "margin": self.margin,
                "min_rate_samples": self.min_rate_samples,
                "extension_seconds": 600.0,
            }
        )


@dataclass
class DemoReport:
    plan_id: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)  # one per step reached
    rolled_back: bool = False
    rollback: dict[str, Any] | None = None
    plan_status: str = ""
    after_rollback: dict[str, int] = field(default_factory=dict)
    notifications: dict[str, Any] = field(default_factory=dict)

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


def evidence_line(name: str, test: dict[str, Any]) -> str:
    """One non-inferiority test of a plan decision, as a person reads it."""
    (s_py, n_py), (s_ts, n_ts) = test["python"], test["typescript"]
    low = test["interval"][0]
    verdict = "passed" if test["passed"] else "not yet"
    return (
        f"{name}: python {s_py}/{n_py}, typescript {s_ts}/{n_ts}; "
        f"difference >= {low:+.3f} vs margin -{test['margin']:g}: {verdict}"
    )


def percent(rate: dict[str, Any]) -> str:
    if rate["estimate"] is None:
        return "n/a (no samples)"
    low, high = rate["ci95"]
    return (
        f"{rate['estimate']:.0%} of {rate['n']} (95% CI {low:.0%}-{high:.0%})"
        if rate["n"]
        else "n/a"
    )
