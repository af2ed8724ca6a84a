"""Monte Carlo of the rollout plan over the real decision code, beside today's watchdog.

Each simulated plan is the default plan (10, 25, 50, 75, 100 %; 200 python completions, 50 PR/CI
outcomes and a day at each step; margin 0.05; alpha 0.05 over the plan; 14 days' extension) fed
completion by completion: each goes to python with the step's percentage, succeeds with its
system's rate and brings one PR and one CI outcome (p = 0.85 both systems). Traffic: 2,000
completions a day, so the clock (dwell, extension) moves 43.2 s per completion. Every 250
completions (a tick) the real :func:`service.plan.decision.decide` decides on the counts since
the step started and the real watchdog verdict (:func:`service.watchdog.verdict.decide`) on the
counts since the plan started; the watchdog's CUSUM (:func:`~service.watchdog.verdict.track`) is
advanced at every python completion and the verdict is also asked the moment the CUSUM reaches
its threshold, as the watchdog's replay would see it. Durations are left out (no ceiling rule).
A step still inconclusive at its deadline stalls; the simulation then plays the person who
resumes it (another extension) and counts the plans that needed one (``*_stalled``).

Scenarios (typescript at p = 0.85 throughout):

* (a) equal: python at 0.85. Completions until 100 % (median, p95), share reaching 100 %.
* (b) better: python at 0.90. The same.
* (c) worse: python at 0.75 from the start. Share advancing past the first step (the false
  advance rate, target <= 1 %) and how the plans end.
* (d) degrading: python at 0.85, then 0.55 from its 1,000th completion (inside the first step).
  Delay: python completions after the change until the rollback, beside today's watchdog in
  ``bench/watchdog_sim.py`` (the change after 200 of 500 completions), run here with the same seed.
* (e) degrading late: the same drop from python's 10,000th completion (about the 50 % step),
  where the drift rule's threshold has grown (:meth:`~service.watchdog.verdict.Policy.
  drift_threshold_at`): the price of its bounded false-alarm rate, shown, not hidden.

Deterministic: each plan has its own ``random.Random`` seeded from (seed, scenario, index).
``python bench/plan_sim.py [--plans N] [--workers N]``; figures to ``bench/results/plan_sim.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import watchdog_sim
from flags.model import Mode
from service.outcomes.stats import Rate
from service.plan import decision as plan_decision
from service.plan.decision import Action, Observation, PlanState, Rates, Status, StepEvidence
from service.plan.model import Plan, default_plan
from service.watchdog import verdict as watchdog
from service.watchdog.verdict import Drift, Evidence, Policy, SystemEvidence

__all__ = ["SCENARIOS", "Run", "main", "play"]

SEED = 20_261_201
PLANS = 400
PER_DAY = 2_000
TICK = 250
CAP = 250_000  # completions; a plan still running then is counted as "running"
BASE = 0.85
QUALITY = 0.85
SCENARIOS: dict[str, tuple[float, float | None, int]] = {  # python's rate, after the change, at
    "equal": (0.85, None, 0),
    "better": (0.90, None, 0),
    "worse": (0.75, None, 0),
    "degrading": (0.85, 0.55, 1_000),  # python completions
    "degrading_late": (0.85, 0.55, 10_000),
}
RESULTS = Path(__file__).resolve().parent / "results" / "plan_sim.json"


@dataclass(frozen=True, slots=True)
class Run:
    end: str  # finished, rolled_back:<rule>, running
    completions: int  # all completions when the plan ended (or reached the cap)
    reached_100_at: int | None  # completions when the rollout reached 100 %
    furthest_step: int
    delay: int | None  # python completions from the change to the rollback (scenario d)
    stalls: int = 0  # times a person had to resume an inconclusive step


def _rates(counts: list[int], n: int) -> Rates:
    return Rates(Rate(counts[0], n), Rate(counts[1], n), Rate(counts[2], n))


def _system(counts: list[int], n: int) -> SystemEvidence:
    return SystemEvidence(
        success=Rate(counts[0], n), build=Rate(counts[2], n), pr=Rate(counts[1], n)
    )


def play(index: int, scenario: str, *, plan: Plan, policy: Policy, seed: int = SEED) -> Run:
    """One plan, completion by completion, until it ends or reaches :data:`CAP`."""
    rng = random.Random(f"{seed}:{scenario}:{index}")
    healthy, degraded, change_at = SCENARIOS[scenario]
    step0 = plan.steps[0]
    state = PlanState(
        Status.RUNNING, 0, 0.0, step0.min_dwell_seconds + plan.extension_seconds,
        Mode.GRADUAL, step0.percentage,
    )  # fmt: skip
    step_py, step_ts, step_n = [0, 0, 0], [0, 0, 0], [0, 0]
    all_py, all_ts, all_n = [0, 0, 0], [0, 0, 0], [0, 0]
    drift, reached, furthest, stalls = Drift(), None, 0, 0
    for total in range(1, CAP + 1):
        python = rng.random() * 100 < state.expected_rollout
        rate = BASE
        if python:
            late = degraded is not None and all_n[0] >= change_at
            rate = degraded if late and degraded is not None else healthy
        outcome = (rng.random() < rate, rng.random() < QUALITY, rng.random() < QUALITY)
        side, everything = (step_py, all_py) if python else (step_ts, all_ts)
        for i, value in enumerate(outcome):
            side[i] += value
            everything[i] += value
        step_n[not python] += 1
        all_n[not python] += 1
        fired = False
        if python:
            baseline = Rate(all_ts[0], all_n[1])
            drift = watchdog.track(drift, success=outcome[0], baseline=baseline, policy=policy)
            fired = drift.statistic >= policy.drift_threshold_at(drift.observations)
        if not fired and total % TICK:
            continue
        evidence = Evidence(_system(all_py, all_n[0]), _system(all_ts, all_n[1]), drift)
        verdict = watchdog.decide(evidence, policy)
        if verdict.rollback:
            delay = all_n[0] - change_at if degraded is not None and all_n[0] > change_at else None
            return Run(f"rolled_back:{verdict.rule}", total, reached, furthest, delay, stalls)
        if total % TICK:
            continue
        now = total * 86_400 / PER_DAY
        step_evidence = StepEvidence(_rates(step_py, step_n[0]), _rates(step_ts, step_n[1]))
        seen = Observation(Mode.GRADUAL, state.expected_rollout)
        decision = plan_decision.decide(plan, state, step_evidence, seen, now)
        if decision.action is Action.FINISH:
            return Run("finished", total, reached, furthest, None, stalls)
        if decision.action is Action.STALL:  # a person resumes: another extension, same step
            stalls += 1
            state = dataclasses.replace(state, deadline=now + plan.extension_seconds)
        if decision.action is Action.ADVANCE and decision.target_rollout is not None:
            furthest = state.step + 1
            step = plan.steps[furthest]
            deadline = now + step.min_dwell_seconds + plan.extension_seconds
            state = PlanState(
                Status.RUNNING, furthest, now, deadline, Mode.GRADUAL, step.percentage
            )
            step_py, step_ts, step_n = [0, 0, 0], [0, 0, 0], [0, 0]
            if step.percentage == 100:
                reached = total
    return Run("running", CAP, reached, furthest, None, stalls)


def _policy(threshold: float, power: float) -> Policy:
    return Policy(drift_threshold=threshold, drift_spend_power=power)


def _chunk(job: tuple[str, int, int, int, float, float]) -> list[Run]:
    scenario, start, stop, seed, threshold, power = job
    plan, policy = default_plan(), _policy(threshold, power)
    return [play(i, scenario, plan=plan, policy=policy, seed=seed) for i in range(start, stop)]


def _reference(job: tuple[int, int, int, float, float]) -> list[watchdog_sim.Run]:
    start, stop, seed, threshold, power = job
    policy = _policy(threshold, power)
    return [
        watchdog_sim.migrate(i, degraded=True, policy=policy, seed=seed) for i in range(start, stop)
    ]


def _median(values: Sequence[int]) -> float:
    return float(statistics.median(values)) if values else math.nan


def _p95(values: Sequence[int]) -> float:
    ordered = sorted(values)
    return float(ordered[math.ceil(0.95 * len(ordered)) - 1]) if ordered else math.nan


def _figures(runs: dict[str, list[Run]], reference: list[watchdog_sim.Run]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name in ("equal", "better"):
        done = [run.reached_100_at for run in runs[name] if run.reached_100_at is not None]
        figures |= {
            f"{name}_reach_100": len(done) / len(runs[name]),
            f"{name}_median_completions": _median(done),
            f"{name}_p95_completions": _p95(done),
            f"{name}_ends": dict(Counter(run.end for run in runs[name])),
            f"{name}_stalled": sum(run.stalls > 0 for run in runs[name]) / len(runs[name]),
        }
    worse = runs["worse"]
    figures["false_advance"] = sum(run.furthest_step >= 1 for run in worse) / len(worse)
    figures["worse_ends"] = dict(Counter(run.end for run in worse))
    figures["worse_median_completions"] = _median([run.completions for run in worse])
    for name, prefix in (("degrading", "rollback"), ("degrading_late", "late_rollback")):
        delays = [run.delay for run in runs[name] if run.delay is not None]
        figures |= {
            f"{prefix}_median_delay": _median(delays),
            f"{prefix}_p95_delay": _p95(delays),
            f"{prefix}_detected": len(delays) / len(runs[name]),
            f"{name}_ends": dict(Counter(run.end for run in runs[name])),
        }
    summary = watchdog_sim.summarise(reference, degraded=True)
    figures["watchdog_median_delay"] = _median(summary.delays)
    figures["watchdog_p95_delay"] = _p95(summary.delays)
    return figures


def simulate(plans: int, workers: int, seed: int, threshold: float, power: float) -> dict[str, Any]:
    chunk = max(1, plans // (4 * workers))
    jobs = [
        (name, start, min(start + chunk, plans), seed, threshold, power)
        for name in SCENARIOS
        for start in range(0, plans, chunk)
    ]
    starts = range(0, plans, chunk)
    reference_jobs = [(s, min(s + chunk, plans), seed, threshold, power) for s in starts]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        chunks = list(pool.map(_chunk, jobs))
        reference = [run for part in pool.map(_reference, reference_jobs) for run in part]
    runs: dict[str, list[Run]] = {name: [] for name in SCENARIOS}
    for (name, *_), part in zip(jobs, chunks, strict=True):
        runs[name].extend(part)
    return _figures(runs, reference)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--plans", type=int, default=PLANS, help="plans per scenario")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--drift-threshold",
        type=float,
        default=Policy().drift_threshold,
        help="the watchdog CUSUM's h0 (default: the watchdog's own)",
    )
    parser.add_argument(
        "--drift-spend-power",
        type=float,
        default=Policy().drift_spend_power,
        help="k in h(n) = h0 + k log(n / n0) (0: a fixed h)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = simulate(
        args.plans, args.workers, args.seed, args.drift_threshold, args.drift_spend_power
    )
    elapsed = time.perf_counter() - started
    figures |= {
        "plans": args.plans,
        "seed": args.seed,
        "drift_threshold": args.drift_threshold,
        "drift_spend_power": args.drift_spend_power,
        "elapsed_s": round(elapsed, 1),
    }
    for name in ("equal", "better"):
        print(
            f"({name}) reach 100 %: {figures[f'{name}_reach_100']:.3f}; completions to 100 %: "
            f"median {figures[f'{name}_median_completions']:g} "
            f"p95 {figures[f'{name}_p95_completions']:g}; ends {figures[f'{name}_ends']}"
        )
    print(
        f"(worse) past the first step: {figures['false_advance']:.4f}; ends {figures['worse_ends']}"
    )
    print(
        f"(degrading) rollback delay median {figures['rollback_median_delay']:g} p95 "
        f"{figures['rollback_p95_delay']:g} python completions; today's watchdog median "
        f"{figures['watchdog_median_delay']:g} p95 {figures['watchdog_p95_delay']:g}"
    )
    print(
        f"(degrading late) rollback delay median {figures['late_rollback_median_delay']:g} p95 "
        f"{figures['late_rollback_p95_delay']:g}; ends {figures['degrading_late_ends']}"
    )
    print(f"elapsed {elapsed:.1f} s with {args.workers} worker(s), {args.plans} plans per scenario")
    keys = (
        "false_advance", "equal_reach_100", "equal_median_completions", "equal_p95_completions",
        "better_reach_100", "better_median_completions", "better_p95_completions",
        "equal_stalled", "rollback_median_delay", "rollback_p95_delay", "watchdog_median_delay",
        "watchdog_p95_delay", "late_rollback_median_delay", "late_rollback_p95_delay",
    )  # fmt: skip
    print("plan: " + " ".join(f"{key}={figures[key]:.4g}" for key in keys))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
