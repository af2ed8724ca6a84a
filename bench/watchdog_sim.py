"""Monte Carlo check of the watchdog's verdict, side by side with the seed's naive rule.

Drives the real :func:`service.watchdog.verdict.decide` after every python completion, with the
counts
the watchdog would see (accumulated since the migration started) and the CUSUM advanced by the
real :func:`service.watchdog.verdict.track`.

* Scenario A (healthy): python and typescript both succeed with p = 0.85; 500 python completions
  per migration, a typescript completion alongside each; 2,000 migrations. Any rollback is false.
* Scenario B (degraded): the same, but python succeeds with p = 0.55 after completion 200.
  Delay = python completions after the change until the rollback; a rollback at or before
  completion 200 is a false alarm (counted apart, left out of the delays); no rollback by
  completion 500 is a miss.

Every completion also yields a CI conclusion and a PR outcome (success p = 0.85 for both systems
in both scenarios) and a duration that exceeds the 600 s ceiling with p = 0.10, so every rule of
the verdict is live. The naive rule: python's success rate over its last 100 completions below
70 % rolls back, checked after every completion, no minimum sample (one failure at the start
fires it).

Deterministic: each migration has its own ``random.Random`` seeded from (seed, scenario, index),
so results do not depend on how the work is split over processes. Run it from the repository
root: ``python bench/watchdog_sim.py [--migrations N] [--workers N]``.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.outcomes.stats import Rate
from service.watchdog.verdict import (
    Drift,
    Durations,
    Evidence,
    Policy,
    SystemEvidence,
    decide,
    track,
)

__all__ = ["Run", "Summary", "main", "migrate", "summarise"]

SEED = 20_260_601
MIGRATIONS = 2_000
COMPLETIONS = 500
CHANGE_AT = 200
HEALTHY = 0.85
DEGRADED = 0.55
QUALITY = 0.85
SLOW = 0.10
NAIVE_FLOOR = 0.70
NAIVE_WINDOW = 100
_CHUNK = 125


@dataclass(frozen=True, slots=True)
class Run:
    """One migration: the python completion at which each rule rolled back (None: never)."""

    rollback_at: int | None
    rule: str | None
    naive_at: int | None


@dataclass(frozen=True, slots=True)
class Summary:
    runs: int
    false_rollbacks: int  # scenario A: any rollback; scenario B: at or before the change
    delays: tuple[int, ...]  # scenario B: rollbacks after the change
    missed: int
    rules: dict[str, int]
    naive_false: int
    naive_delays: tuple[int, ...]


def _system(rng: random.Random, counts: list[int], p: float) -> bool:
    """One completion: success, CI conclusion, PR outcome, duration over the ceiling."""
    success = rng.random() < p
    counts[0] += success
    counts[1] += rng.random() < QUALITY
    counts[2] += rng.random() < QUALITY
    counts[3] += rng.random() < SLOW
    return success


def _evidence(counts: list[int], n: int) -> SystemEvidence:
    return SystemEvidence(
        success=Rate(counts[0], n),
        build=Rate(counts[1], n),
        pr=Rate(counts[2], n),
        durations=Durations(n, 300.0, counts[3]),
    )


def migrate(index: int, *, degraded: bool, policy: Policy, seed: int = SEED) -> Run:
    rng = random.Random(f"{seed}:{'B' if degraded else 'A'}:{index}")
    python, typescript = [0, 0, 0, 0], [0, 0, 0, 0]
    drift = Drift()
    window: deque[bool] = deque(maxlen=NAIVE_WINDOW)
    rollback_at: int | None = None
    rule: str | None = None
    naive_at: int | None = None
    for n in range(1, COMPLETIONS + 1):
        _system(rng, typescript, HEALTHY)
        p = DEGRADED if degraded and n > CHANGE_AT else HEALTHY
        success = _system(rng, python, p)
        if rollback_at is None:
            baseline = Rate(typescript[0], n)
            drift = track(drift, success=success, baseline=baseline, policy=policy)
            evidence = Evidence(_evidence(python, n), _evidence(typescript, n), drift)
            verdict = decide(evidence, policy)
            if verdict.rollback:
                rollback_at, rule = n, str(verdict.rule)
        if naive_at is None:
            window.append(success)
            if sum(window) / len(window) < NAIVE_FLOOR:
                naive_at = n
        if rollback_at is not None and naive_at is not None:
            break
    return Run(rollback_at, rule, naive_at)


def _chunk(job: tuple[bool, int, int, int]) -> list[Run]:
    degraded, start, stop, seed = job
    policy = Policy()
    return [migrate(i, degraded=degraded, policy=policy, seed=seed) for i in range(start, stop)]


def summarise(runs: Sequence[Run], *, degraded: bool) -> Summary:
    change = CHANGE_AT if degraded else COMPLETIONS
    false = [r for r in runs if r.rollback_at is not None and r.rollback_at <= change]
    delays = [r.rollback_at - change for r in runs if r.rollback_at and r.rollback_at > change]
    naive = [r.naive_at - change for r in runs if r.naive_at and r.naive_at > change]
    return Summary(
        runs=len(runs),
        false_rollbacks=len(false),
        delays=tuple(sorted(delays)),
        missed=sum(r.rollback_at is None for r in runs) if degraded else 0,
        rules=dict(Counter(str(r.rule) for r in runs if r.rule is not None)),
        naive_false=sum(r.naive_at is not None and r.naive_at <= change for r in runs),
        naive_delays=tuple(sorted(naive)),
    )


def _p95(values: Sequence[int]) -> float:
    return float(values[math.ceil(0.95 * len(values)) - 1]) if values else math.nan


def _median(values: Sequence[int]) -> float:
    return float(statistics.median(values)) if values else math.nan


def _simulate(migrations: int, workers: int, seed: int) -> tuple[Summary, Summary]:
    jobs = [
        (degraded, start, min(start + _CHUNK, migrations), seed)
        for degraded in (False, True)
        for start in range(0, migrations, _CHUNK)
    ]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        chunks = list(pool.map(_chunk, jobs))
    half = len(chunks) // 2
    healthy = [run for chunk in chunks[:half] for run in chunk]
    degraded = [run for chunk in chunks[half:] for run in chunk]
    return summarise(healthy, degraded=False), summarise(degraded, degraded=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--migrations", type=int, default=MIGRATIONS)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    policy = Policy()
    started = time.perf_counter()
    a, b = _simulate(args.migrations, args.workers, args.seed)
    elapsed = time.perf_counter() - started
    f = a.false_rollbacks / a.runs
    missed = b.missed / b.runs
    print(f"policy: {policy}")
    print(f"scenario A (healthy, p={HEALTHY}): {a.runs} migrations x {COMPLETIONS} completions")
    print(f"  verdict: false rollbacks {a.false_rollbacks} ({f:.4f}), by rule {a.rules}")
    print(f"  naive:   false rollbacks {a.naive_false} ({a.naive_false / a.runs:.4f})")
    print(f"scenario B (p={HEALTHY} -> {DEGRADED} after completion {CHANGE_AT}): {b.runs} runs")
    print(
        f"  verdict: detected after the change {len(b.delays)}, delay median "
        f"{_median(b.delays):g} p95 {_p95(b.delays):g} max {max(b.delays, default=0)}; "
        f"false alarms before it {b.false_rollbacks}; missed {b.missed}; by rule {b.rules}"
    )
    print(
        f"  naive:   rolled back before the change {b.naive_false}; of the rest, delay median "
        f"{_median(b.naive_delays):g} p95 {_p95(b.naive_delays):g} (n={len(b.naive_delays)})"
    )
    print(f"elapsed {elapsed:.1f} s with {args.workers} worker(s)")
    print(
        f"watchdog: false_rollback_rate={f:.4f} median_delay={_median(b.delays):g} "
        f"p95_delay={_p95(b.delays):g} missed={missed:.4f} "
        f"naive_false_rollback_rate={a.naive_false / a.runs:.4f} "
        f"naive_median_delay={_median(b.naive_delays):g}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
