"""Weeks of history: status, /metrics, the dashboard and a watchdog tick at 10k, 100k and 1M.

Fills a migration's history through the real recording scripts (the recorder's own Lua, queued
on pipelines: ``OutcomeRecorder.queue_completion`` / ``queue_outcome``) with an injected clock
spreading the events over 35 days, in three stages (10k, 100k, 1M completions in all; a quarter
of them shadow runs, each with its comparison; 40 % of acting runs with a PR closed, 40 % with a
check suite). After each stage, against a real ``switchyard serve`` on that prefix:

* p50/p95 of ``GET /migration/status``, ``GET /metrics`` and ``GET /migration/dashboard/panels``
  (the first and last with the viewer token: they need a login);
* one watchdog tick (dry run): the catch-up tick that folds the stage's rows, then ticks with
  a few new completions each, p50/p95;
* Redis memory per event (``used_memory`` growth over events recorded);
* today's scan-based reads (every stream row of the window, and the evidence replayed from the
  epoch), timed once while they still answer within 5 s.

Last line: ``history: status_p95_ms=... metrics_p95_ms=... panels_p95_ms=...
watchdog_tick_p95_ms=... flat_ratio_max=... redis_bytes_per_event=...`` (1M figures; the flat
ratio is the largest 1M/10k ratio of the four p95s). Targets: each p95 <= 50 ms, ratio <= 1.5.
Results: ``bench/results/history-latest.json`` and a dated copy.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeout

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    delete_prefix,
    log_dir,
    machine,
    percentile,
    run,
    serve,
    settings_for,
    stack_env,
    unique_prefix,
)
from bench.history_fill import Filler, load_state, save_state
from bench.history_report import final_line, stage_line, summary
from service.migration.control import MigrationControl
from service.outcomes.metrics import read_metrics
from service.runtime import unleash_admin
from service.watchdog.evidence import gather_evidence
from service.watchdog.loop import Watchdog, WatchdogConfig
from service.watchdog.verdict import Policy

__all__ = ["STAGES", "measure"]

STAGES = (10_000, 100_000, 1_000_000)
QUICK_STAGES = (10_000, 30_000, 100_000)
WORKERS = 3
SAMPLES = 100
SCAN_LIMIT_S = 5.0
RESULTS = Path(__file__).resolve().parent / "results"


async def _timed(call: Callable[[], Awaitable[Any]], samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _p(samples: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(samples, 50), 2), "p95": round(percentile(samples, 95), 2)}


async def _redis_work(redis: Redis) -> tuple[int, float]:
    """Commands Redis has run (scripts' own calls included) and its CPU seconds, so far."""
    stats, cpu = await redis.info("commandstats"), await redis.info("cpu")
    calls = sum(int(value["calls"]) for value in stats.values())
    return calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def _per_request(before: tuple[int, float], after: tuple[int, float]) -> dict[str, float]:
    """Redis's work per sampled request (the service's own background reads included: about)."""
    return {
        "redis_commands": round((after[0] - before[0]) / SAMPLES, 1),
        "redis_cpu_ms": round((after[1] - before[1]) * 1000 / SAMPLES, 2),
    }


async def _get(http: httpx.AsyncClient, url: str) -> None:
    response = await http.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} -> {response.status_code}: {response.text[:200]}")


async def _stage(
    filler: Filler,
    base: str,
    watchdog: Watchdog,
    scans: dict[str, bool],
    prefix: str,
    baseline_memory: int,
    reader: Mapping[str, str],
) -> dict[str, Any]:
    redis = filler.redis
    figures: dict[str, Any] = {"completions": filler.completions, "events": filler.events}
    async with httpx.AsyncClient(timeout=30, headers=dict(reader)) as http:
        for name, path in (
            ("status", "/migration/status"),
            ("metrics", "/metrics"),
            ("panels", "/migration/dashboard/panels?window=1d"),
        ):
            await _get(http, base + path)  # warm
            url = base + path
            before = await _redis_work(redis)
            figures[name] = _p(await _timed(functools.partial(_get, http, url), SAMPLES))
            after = await _redis_work(redis)
            figures[name] |= _per_request(before, (after[0] - 2, after[1]))
    started = time.perf_counter()
    await watchdog.tick()
    figures["watchdog_catch_up_ms"] = round((time.perf_counter() - started) * 1000, 1)
    ticks, work = [], (0, 0.0)
    for _ in range(SAMPLES):
        await filler.recent(5)
        before = await _redis_work(redis)
        ticks += await _timed(watchdog.tick, 1)
        after = await _redis_work(redis)
        # less the 2 INFO calls that read the counters
        work = (work[0] + after[0] - before[0] - 2, work[1] + after[1] - before[1])
    figures["watchdog_tick"] = _p(ticks) | _per_request((0, 0.0), work)
    memory = int((await redis.info("memory"))["used_memory"])
    figures["redis_bytes_per_event"] = round((memory - baseline_memory) / filler.events, 1)
    figures["redis_used_mb"] = round(memory / 2**20, 1)
    for name, call in (
        ("scan_status_ms", lambda: read_metrics(redis, prefix=prefix, last_n=10**9)),
        (
            "scan_watchdog_ms",
            lambda: gather_evidence(
                redis, prefix=prefix, since=0, policy=Policy(), python_health_failures=0
            ),
        ),
    ):
        if not scans[name]:
            figures[name] = None  # no longer answers in time: not run again
            continue
        try:
            elapsed = (await asyncio.wait_for(_timed(call, 1), timeout=SCAN_LIMIT_S))[0]
        except (TimeoutError, RedisTimeout):
            figures[name], scans[name] = None, False
            continue
        figures[name] = round(elapsed, 1)
        scans[name] = elapsed < SCAN_LIMIT_S * 1000
    return figures


async def _measure_prefix(
    env: Mapping[str, str],
    prefix: str,
    targets: tuple[int, ...],
    *,
    workers: int,
    saved: Path | None = None,
) -> dict[str, Any]:
    """Fill ``prefix`` up to each target in turn and measure; with ``saved``, resume the
    history that file describes and describe it there after each stage."""
    settings = settings_for(env, SWITCHYARD_REDIS_PREFIX=prefix)
    token = settings.viewer_token or settings.admin_token  # the status and panels need a login
    reader = {"Authorization": f"Bearer {token.reveal()}"} if token else {}
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    stages: dict[str, Any] = {}
    try:
        state = load_state(saved)
        baseline = state.get("baseline") or int((await redis.info("memory"))["used_memory"])
        filler = Filler(redis, settings.redis_url, prefix, state.get("end") or time.time())
        filler.completions = state.get("completions", 0)
        filler.filled_events = state.get("events", 0)
        own = {**env, "SWITCHYARD_REDIS_PREFIX": prefix}
        async with (
            httpx.AsyncClient() as http,
            serve(own, name="history-service", own_port=True) as base,
        ):
            watchdog = Watchdog(
                redis=redis,
                http=http,
                control=MigrationControl(
                    admin=unleash_admin(settings, http), redis=redis, prefix=prefix
                ),
                prefix=prefix,
                config=WatchdogConfig(name="bench-history", dry_run=True),
            )
            scans = {"scan_status_ms": True, "scan_watchdog_ms": True}
            for target in targets:
                started = time.monotonic()
                await filler.fill(target - filler.completions, workers=workers)
                fill_s = time.monotonic() - started
                if saved is not None:
                    save_state(saved, baseline, filler)
                figures = await _stage(filler, base, watchdog, scans, prefix, baseline, reader)
                figures["fill_s"] = round(fill_s, 1)
                figures["loadavg"] = [round(x, 2) for x in os.getloadavg()]
                stages[str(target)] = figures
                print(stage_line(target, figures), flush=True)
    finally:
        await redis.aclose()
        if saved is None:
            await delete_prefix(settings.redis_url, prefix)
    return stages


async def measure(
    env: Mapping[str, str],
    stages: tuple[int, ...] = STAGES,
    *,
    workers: int = WORKERS,
    keep: str | None = None,
) -> dict[str, Any]:
    """Without ``keep``, one history grows through the stages and is deleted at the end. With
    ``keep``, each stage has its own history under prefix ``{keep}-{stage}``, kept (and
    described in ``.stack/``), so a later run with the same ``keep`` measures it again
    without filling it again: the reads of new code against the same history."""
    results: dict[str, Any] = {"stages": {}, "machine": machine(), "workers": workers}
    if keep is None:
        results["stages"] = await _measure_prefix(
            env, unique_prefix("history"), stages, workers=workers
        )
        return summary(results, stages)
    for target in stages:
        prefix = f"{keep}-{target}"
        saved = log_dir().parent / f"history-{prefix}.json"
        results["stages"] |= await _measure_prefix(
            env, prefix, (target,), workers=workers, saved=saved
        )
    return summary(results, stages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10k, 30k, 100k completions")
    parser.add_argument("--stages", help="comma-separated completion counts (default 10k,100k,1M)")
    parser.add_argument("--workers", type=int, default=WORKERS, help="fill processes")
    parser.add_argument(
        "--keep",
        metavar="PREFIX",
        help="keep each stage's history under PREFIX-<stage> and measure it again next time",
    )
    args = parser.parse_args()
    stages: tuple[int, ...] = QUICK_STAGES if args.quick else STAGES
    if args.stages:
        stages = tuple(int(part) for part in args.stages.split(","))
    figures = run(measure(stack_env(), stages, workers=args.workers, keep=args.keep))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    text = json.dumps(figures, indent=2, sort_keys=True) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "history-latest.json").write_text(text)
    (RESULTS / f"history-{stamp}.json").write_text(text)
    print(final_line(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
