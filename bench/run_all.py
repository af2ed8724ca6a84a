"""Every benchmark against the running stack, one results file, one summary table.

``make bench`` runs this after the watchdog simulation, on a stack it has brought up and
provisioned. Order: routing decision cost, webhook intake, end to end, flag propagation (the
one that flips the kill switch; flags end at the provisioned defaults), then weeks of history
(``bench/history.py``: 10k, 100k and 1M completions; the longest). A
benchmark that fails is reported and the others still run; the results file then holds None
for its figures and ``errors`` says why, and the exit code is 1.

Run alone: ``python bench/run_all.py [--quick] [--only intake,decision,e2e,propagation]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import decision_cost, e2e, history, history_report, intake, propagation, results
from bench.common import machine, run, stack_env

__all__ = ["BENCHMARKS", "main"]

Benchmark = Callable[[dict[str, str], bool], Awaitable[dict[str, Any]]]


def _decision(env: dict[str, str], quick: bool) -> Awaitable[dict[str, Any]]:
    options = decision_cost.Options.quick() if quick else decision_cost.Options()
    return decision_cost.measure(env, options)


def _intake(env: dict[str, str], quick: bool) -> Awaitable[dict[str, Any]]:
    return intake.measure(env, intake.Options.quick() if quick else intake.Options())


def _e2e(env: dict[str, str], quick: bool) -> Awaitable[dict[str, Any]]:
    events = e2e.QUICK_EVENTS if quick else e2e.EVENTS
    return e2e.measure(env, events=events, workers=(1, 2))


def _propagation(env: dict[str, str], quick: bool) -> Awaitable[dict[str, Any]]:
    return propagation.measure(env, propagation.QUICK_FLIPS if quick else propagation.FLIPS)


async def _history(env: dict[str, str], quick: bool) -> dict[str, Any]:
    figures = await history.measure(env, history.QUICK_STAGES if quick else history.STAGES)
    print(history_report.final_line(figures), flush=True)
    return figures


BENCHMARKS: dict[str, Benchmark] = {
    "decision": _decision,
    "intake": _intake,
    "e2e": _e2e,
    "propagation": _propagation,
    "history": _history,
}


async def _run_all(names: Sequence[str], quick: bool) -> dict[str, Any]:
    env = stack_env()
    figures: dict[str, Any] = {"machine": machine(), "quick": quick}
    errors: dict[str, str] = {}
    durations: dict[str, float] = {}
    for name in names:
        print(f"\n== {name}", flush=True)
        started = time.monotonic()
        try:
            figures.update(await BENCHMARKS[name](env, quick))
        except Exception as error:  # one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            errors[name] = f"{type(error).__name__}: {error}"
        durations[name] = round(time.monotonic() - started, 1)
    figures["durations_s"] = durations
    if errors:
        figures["errors"] = errors
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer samples")
    parser.add_argument(
        "--only", help=f"comma-separated subset of {','.join(BENCHMARKS)} (default all)"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    try:
        figures = run(_run_all(names, args.quick))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted; every process it started was stopped", file=sys.stderr)
        return 130
    latest, dated = results.write(figures)
    print(f"\nresults: {latest}\n         {dated}\n")
    print(results.summary(figures))
    print("\n(shared machine: absolute numbers are noisy; ratios within one run are the signal)")
    return 1 if "errors" in figures else 0


if __name__ == "__main__":
    sys.exit(main())
