"""The watchdog's verdict: a pure function of (evidence, policy), no I/O.

`decide` rolls back when any rule fires; each needs ``min_samples`` (30) on every side it reads,
so a few failures never act. ``Verdict.rule`` is the first to fire in this order, ``reasons``
lists all, ``evidence`` is the first one's audit record:

1. health: python failed its last ``health_check_limit`` (3) health checks in a row.
2. floor: the upper bound of a confidence sequence (CS) for python's success rate, build success
   or PR acceptance is below its floor (0.70, 0.70, 0.50).
3. ceiling: a sign test; the CS lower bound of the share of python's durations above the ceiling
   (600 s) exceeds 1/2, i.e. the p50 is credibly above it.
4. comparison: per rate, upper(python) - lower(typescript) < -margin (0.05), each CS at half the
   test's alpha. Typescript as bad as python: this stays quiet, the floors still fire.
5. drift: Page's CUSUM of python's completions against typescript's rate (`track`) reaches h(n),
   a threshold that grows with python's completions n (`Policy.drift_threshold_at`).

Error budget (alpha = 0.01 per migration, checked after every completion). Rules 2-4 use
Robbins' normal-mixture CS (`service.outcomes.stats`): valid at every n at once, so looking after
each completion is free. The seven tests share alpha/2 by Bonferroni (alpha/14 each). The guarantee
holds for counts accumulated from a fixed start (the migration or rollout step); over a sliding
window every window is a new look. They are slow by design: at n = 200 the bound is +-0.15.

Why a CUSUM for speed: counts from a fixed start remember the healthy past (a floor at 0.70
gains 0.05 nats per completion at 0.55); the CUSUM forgets, optimal for a known drop (Lorden).
Reference p0: typescript's rate less one worst-case standard error 1/(2 sqrt(n)); alternative
p1 = p0 - 0.20 (better p95 delay than 0.25 or 0.30). h0 = 7.25 was calibrated by simulation over
500 completions (seed 99: false rollbacks 0.0084 / 0.0061 / 0.0048 at h = 7.0 / 7.25 / 7.5).

A fixed h false-alarms at a constant rate: over a rollout's ~20,000 python completions it rolled
back 51 % of healthy plans at h = 7.25 (``bench/plan_sim.py``; at h = 10, 2 %, but a drop took a
median 40.5 completions to catch). The threshold spends its budget instead
(``stats.spending_threshold``; Lorden's bound and references there): h(n) = h0 up to n0 = 500
python completions, then h0 + k log(n / n0), k = 1.5, so the chance of a false rollback *ever*
is bounded (about 3x what the first 500 spend). The price: a drop after n completions is caught
about k log(n / 500) / 0.23 completions later (+4.5 at n = 1,000, +19 at 10,000).

`python bench/watchdog_sim.py` (2,000 migrations of 500 completions, so h = h0): false rollback
rate 0.0095 (all by drift), delay median 35, p95 77; the naive rule 0.4615, median delay 51.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from service.outcomes import stats
from service.outcomes.stats import Rate

__all__ = [
    "Drift",
    "Durations",
    "Evidence",
    "Metric",
    "Policy",
    "Rule",
    "SystemEvidence",
    "Verdict",
    "decide",
    "track",
]

_CS_TESTS = 7  # three floors, one duration ceiling, three comparisons (Bonferroni)
_RATE_EDGE = 0.01  # keeps the CUSUM's rates inside (0, 1)


class Rule(StrEnum):
    HEALTH = "health"
    FLOOR = "floor"
    CEILING = "ceiling"
    COMPARISON = "comparison"
    DRIFT = "drift"


class Metric(StrEnum):
    SUCCESS_RATE = "success_rate"
    BUILD_SUCCESS = "build_success"
    PR_ACCEPTANCE = "pr_acceptance"
    DURATION_P50 = "duration_p50"
    HEALTH_CHECKS = "health_checks"


@dataclass(frozen=True, slots=True)
class Durations:
    """Completion durations: how many, their median, how many exceeded the policy's ceiling."""

    n: int = 0
    p50_seconds: float | None = None
    above_ceiling: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.above_ceiling <= self.n:
            raise ValueError(f"need 0 <= above_ceiling <= n, got {self.above_ceiling}/{self.n}")

    @classmethod
    def from_seconds(cls, seconds: Sequence[float], *, ceiling: float) -> Durations:
        ordered, n = sorted(seconds), len(seconds)
        p50 = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2 if n else None
        return cls(n, p50, sum(value > ceiling for value in ordered))


@dataclass(frozen=True, slots=True)
class SystemEvidence:
    """One system's counts, accumulated since a fixed start (see the module docstring)."""

    success: Rate = field(default_factory=Rate)
    build: Rate = field(default_factory=Rate)
    pr: Rate = field(default_factory=Rate)
    durations: Durations = Durations()
    health_failures: int = 0  # consecutive failed health checks, up to the latest


@dataclass(frozen=True, slots=True)
class Drift:
    """Page's CUSUM of python's outcomes against typescript's rate, advanced by `track`.

    ``segment``: python's outcomes since the statistic last touched 0, the stretch the CUSUM
    suspects (the audit record's estimate). ``reference``: the p0 of the latest step.
    """

    statistic: float = 0.0
    observations: int = 0
    segment: Rate = field(default_factory=Rate)
    reference: float | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    python: SystemEvidence
    typescript: SystemEvidence
    drift: Drift = Drift()


@dataclass(frozen=True, slots=True)
class Policy:
    alpha: float = 0.01  # false rollbacks per migration
    min_samples: int = 30
    success_floor: float = 0.70
    build_floor: float = 0.70
    pr_acceptance_floor: float = 0.50
    duration_ceiling_seconds: float = 600.0
    margin: float = 0.05  # comparison: python may trail typescript by this much
    health_check_limit: int = 3
    drift_drop: float = 0.20  # the CUSUM's alternative: python at its reference - 0.20
    drift_threshold: float = 7.25  # h0, calibrated by bench/watchdog_sim.py
    drift_spend_after: int = 500  # n0: h = h0 up to n0 python completions, then grows
    drift_spend_power: float = 1.5  # k: h(n) = h0 + k log(n / n0), calibrated by plan_sim.py
    drift_reference_se: float = 1.0  # reference: typescript less this many worst-case s.e.
    tightest_at: int = 200  # the sample size where the confidence sequences are tightest

    def __post_init__(self) -> None:
        rates = ("alpha", "success_floor", "build_floor", "pr_acceptance_floor", "drift_drop")
        bad = [n for n in rates if not 0 < getattr(self, n) < 1]
        ints = ("min_samples", "health_check_limit", "tightest_at", "drift_spend_after")
        bad += [n for n in ints if getattr(self, n) < 1]
        bad += [n for n in ("drift_threshold", "duration_ceiling_seconds") if getattr(self, n) <= 0]
        signed = ("margin", "drift_reference_se", "drift_spend_power")
        bad += [n for n in signed if getattr(self, n) < 0]
        if bad:
            raise ValueError(f"Policy out of range: {[(n, getattr(self, n)) for n in bad]}")

    def drift_threshold_at(self, observations: int) -> float:
        """The CUSUM's threshold h(n) after ``observations`` python completions (alpha spending,
        :func:`service.outcomes.stats.spending_threshold`)."""
        return stats.spending_threshold(
            observations,
            base=self.drift_threshold,
            after=self.drift_spend_after,
            power=self.drift_spend_power,
        )

    @property
    def test_alpha(self) -> float:
        """Each confidence-sequence test's share: half the budget, split over the seven."""
        return self.alpha / (2 * _CS_TESTS)


@dataclass(frozen=True, slots=True)
class Verdict:
    rollback: bool
    rule: Rule | None
    reasons: tuple[str, ...]
    evidence: dict[str, Any]  # JSON-serialisable: rule, metric, samples, estimate, interval, ...


def track(drift: Drift, *, success: bool, baseline: Rate, policy: Policy) -> Drift:
    """Fold one python completion into the CUSUM, O(1); ``baseline``: typescript's counts now.

    p0 is typescript's estimate less ``drift_reference_se`` worst-case standard errors
    ``1/(2 sqrt(n))``, p1 is ``drift_drop`` below it. Until typescript has ``min_samples``
    completions, or when it is too poor for python to drop that far (p1 below 0.01, the lowest
    rate the CUSUM takes), the completion is counted and the statistic stays.
    """
    observations = drift.observations + 1
    slack = policy.drift_reference_se / (2 * math.sqrt(max(baseline.trials, 1)))
    reference = min((baseline.estimate or 0.0) - slack, 1 - _RATE_EDGE)
    alternative = reference - policy.drift_drop
    if baseline.trials < policy.min_samples or alternative < _RATE_EDGE:
        return Drift(drift.statistic, observations, drift.segment, drift.reference)
    statistic = stats.cusum_step(drift.statistic, success, reference, alternative)
    segment = drift.segment
    segment = Rate(segment.successes + success, segment.trials + 1) if statistic > 0 else Rate()
    return Drift(statistic, observations, segment, reference)


def decide(evidence: Evidence, policy: Policy) -> Verdict:
    """Roll back when any rule fires (see the module docstring)."""
    fired = list(_findings(evidence, policy))
    if not fired:
        return Verdict(False, None, (), _summary(evidence, policy))
    return Verdict(True, fired[0][0], tuple(reason for _, reason, _ in fired), fired[0][2])


def _findings(evidence: Evidence, policy: Policy) -> Iterator[tuple[Rule, str, dict[str, Any]]]:
    python, typescript = evidence.python, evidence.typescript
    if (failures := python.health_failures) >= policy.health_check_limit:
        record = _record(Rule.HEALTH, Metric.HEALTH_CHECKS, failures, None, None)
        record["threshold"] = policy.health_check_limit
        yield Rule.HEALTH, f"{failures} consecutive failed health checks", record
    alpha, minimum = policy.test_alpha, policy.min_samples
    rated = (
        (Metric.SUCCESS_RATE, python.success, typescript.success, policy.success_floor),
        (Metric.BUILD_SUCCESS, python.build, typescript.build, policy.build_floor),
        (Metric.PR_ACCEPTANCE, python.pr, typescript.pr, policy.pr_acceptance_floor),
    )
    for metric, mine, _, floor in rated:
        bounds = _cs(mine.successes, mine.trials, alpha, policy)
        if mine.trials >= minimum and bounds[1] < floor:
            record = _record(Rule.FLOOR, metric, mine.trials, mine.estimate, bounds)
            record["threshold"] = floor
            yield Rule.FLOOR, f"python {metric} is below {floor:.2f}: {_show(record)}", record
    durations, ceiling = python.durations, policy.duration_ceiling_seconds
    n, above = durations.n, durations.above_ceiling
    share = _cs(above, n, alpha, policy)
    if n >= minimum and share[0] > 0.5:  # sign test: most durations exceed the ceiling
        record = _record(Rule.CEILING, Metric.DURATION_P50, n, durations.p50_seconds, share)
        record |= {"threshold": ceiling, "share_above_ceiling": above / n}
        reason = f"python p50 duration above {ceiling:g} s: share above in [{share[0]:.3f}, 1]"
        yield Rule.CEILING, reason, record
    for metric, mine, theirs, _ in rated:
        if min(mine.trials, theirs.trials) < minimum:
            continue
        low_p, high_p = _cs(mine.successes, mine.trials, alpha / 2, policy)
        low_t, high_t = _cs(theirs.successes, theirs.trials, alpha / 2, policy)
        if high_p - low_t < -policy.margin:
            difference = (mine.estimate or 0.0) - (theirs.estimate or 0.0)
            interval = (low_p - high_t, high_p - low_t)
            record = _record(Rule.COMPARISON, metric, mine.trials, difference, interval)
            record |= {"threshold": -policy.margin, "typescript_samples": theirs.trials}
            reason = f"python {metric} trails typescript by more than {policy.margin:.2f}"
            yield Rule.COMPARISON, f"{reason}: {_show(record)}", record
    drift, h = evidence.drift, policy.drift_threshold_at(evidence.drift.observations)
    if drift.observations >= minimum and drift.statistic >= h:
        segment = drift.segment
        wilson = stats.wilson_interval(segment.successes, segment.trials)
        record = _record(Rule.DRIFT, Metric.SUCCESS_RATE, segment.trials, segment.estimate, wilson)
        record |= {"statistic": drift.statistic, "threshold": h, "reference": drift.reference}
        reason = f"python success rate fell below typescript's reference {drift.reference:.2f}"
        reason += f": CUSUM {drift.statistic:.2f} >= {h:.2f}, {_show(record)}"
        yield Rule.DRIFT, reason, record


def _cs(successes: int, trials: int, alpha: float, policy: Policy) -> tuple[float, float]:
    rho = stats.mixture_rho(policy.tightest_at, policy.test_alpha)  # fixed in advance
    return stats.confidence_sequence(successes, trials, alpha, rho=rho)


def _record(
    rule: Rule | None,
    metric: Metric,
    samples: int,
    estimate: float | None,
    interval: tuple[float, float] | None,
) -> dict[str, Any]:
    """An audit record. ``interval``: the decision's CS (drift: 95 % Wilson, for display)."""
    return {
        "rule": None if rule is None else rule.value,
        "metric": metric.value,
        "samples": samples,
        "estimate": estimate,
        "interval": None if interval is None else [interval[0], interval[1]],
    }


def _show(record: dict[str, Any]) -> str:
    low, high = record["interval"]
    return f"estimate {record['estimate']:.3f} in [{low:.3f}, {high:.3f}], n={record['samples']}"


def _summary(evidence: Evidence, policy: Policy) -> dict[str, Any]:
    """The record when nothing fired: python's success rate with its CS, and the CUSUM."""
    success = evidence.python.success
    bounds = _cs(success.successes, success.trials, policy.test_alpha, policy)
    record = _record(None, Metric.SUCCESS_RATE, success.trials, success.estimate, bounds)
    drift, h = evidence.drift, policy.drift_threshold_at(evidence.drift.observations)
    return record | {"drift_statistic": drift.statistic, "drift_threshold": h}
