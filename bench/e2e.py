"""End to end: events/s from intake through the worker to a simulated agent and back.

Per run, on a Redis prefix of its own, all real OS processes started through the CLI:
``switchyard serve`` (intake and the completion callbacks), ``switchyard simulate-agent`` for
both systems (success rate 1, latency 0: the agent answers 202, then calls back at once) and
1 or 2 ``switchyard worker`` processes in the consumer group. Flags are the provisioned
defaults (``typescript_only``): every event is one acting job for typescript, no shadow.

The load: ``--events`` signed ``issues`` ``opened`` deliveries, each for its own issue (one
issue's events are serialised by its lock, which is not what this measures), posted to the
service by 8 concurrent keep-alive connections as fast as it takes them. An event is done when
its completion is recorded in ``<prefix>:completions`` (the callback reached the service and
``OutcomeRecorder`` stored it). Throughput = events / (last completion recorded - first post).
A warm-up of 20 events goes first and is not counted. The service takes deliveries far faster
than the workers dispatch them, so the stream builds a backlog and the rate is the pipeline's;
the per-event times (post -> completion recorded) are mostly time spent waiting in that backlog.
The CPU time each process (and Redis, and this load generator) used during the measured part is
printed per event, to show where the time goes.

The same invocation then runs :mod:`bench.e2e_apps`: both systems as ``github-app``
receivers, the gate's forwarded deliveries per second and its added latency (Switchyard's 202
to the App's receipt, p50/p95) beside the job-API figures.

Run alone: ``python bench/e2e.py [--quick] [--events N] [--workers 1,2] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis

from bench.common import (
    SWITCHYARD,
    Delivery,
    child,
    cpu_seconds,
    delete_prefix,
    free_port,
    log_dir,
    percentile,
    redis_cpu_seconds,
    run,
    settings_for,
    stack_env,
    unique_prefix,
    wait_ready,
)
from bench.e2e_apps import measure_apps
from bench.loadgen import RawTarget
from flags.model import System
from service.keys import Keys
from service.outcomes.records import CompletionRecord, read_entries

__all__ = ["main", "measure", "measure_run"]

EVENTS = 600
QUICK_EVENTS = 200
WARMUP_EVENTS = 20
SENDERS = 8
_DONE_WITHIN = 180.0


@dataclass
class _Pipeline:
    service_url: str
    pids: dict[str, int] = field(default_factory=dict)  # role -> pid

    def cpu(self) -> dict[str, float | None]:
        return {role: cpu_seconds(pid) for role, pid in self.pids.items()}


@contextlib.asynccontextmanager
async def _pipeline(env: dict[str, str], prefix: str, workers: int) -> AsyncIterator[_Pipeline]:
    """Simulators, service and workers running."""
    sim_ports = {system: free_port() for system in System}
    service_port = free_port()
    service_url = f"http://127.0.0.1:{service_port}"
    own = {
        **env,
        "SWITCHYARD_REDIS_PREFIX": prefix,
        "SWITCHYARD_URL": service_url,
        "SWITCHYARD_PORT": str(service_port),
        "SWITCHYARD_TYPESCRIPT_URL": f"http://127.0.0.1:{sim_ports[System.TYPESCRIPT]}",
        "SWITCHYARD_PYTHON_URL": f"http://127.0.0.1:{sim_ports[System.PYTHON]}",
        "SWITCHYARD_INSTANCE": f"bench-e2e-{workers}w",
    }
    pipeline = _Pipeline(service_url)
    async with contextlib.AsyncExitStack() as stack:
        started = []
        workers_started: list[tuple[asyncio.subprocess.Process, str]] = []
        for system, port in sim_ports.items():
            argv = [SWITCHYARD, "simulate-agent", "--system", system.value, "--port", str(port)]
            argv += ["--success-rate", "1", "--latency-ms", "0", "--seed", "7"]
            name = f"e2e-sim-{system.value}"
            proc = await stack.enter_async_context(child(argv, env=own, name=name))
            started.append((f"http://127.0.0.1:{port}/health", proc, name))
            pipeline.pids[f"simulator-{system.value}"] = proc.pid
        argv = [SWITCHYARD, "serve"]
        proc = await stack.enter_async_context(child(argv, env=own, name="e2e-service"))
        started.append((f"{service_url}/readyz", proc, "e2e-service"))
        pipeline.pids["service"] = proc.pid
        for index in range(workers):
            name = f"e2e-worker-{index + 1}"
            argv = [SWITCHYARD, "worker", "--consumer", name]  # logs at info, as deployed
            proc = await stack.enter_async_context(child(argv, env=own, name=name))
            workers_started.append((proc, name))
            pipeline.pids[f"worker-{index + 1}"] = proc.pid
        for url, proc, name in started:
            await wait_ready(url, proc, name=name)
        for proc, name in workers_started:
            await _consuming(proc, name)
        yield pipeline


async def _consuming(proc: asyncio.subprocess.Process, name: str) -> None:
    """Until the worker logs that it consumes the stream (its group exists then)."""
    log = log_dir() / f"{name}.log"
    deadline = time.monotonic() + 60
    while "consuming" not in log.read_text(errors="replace"):
        if proc.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start: {log.read_text(errors='replace')[-2000:]}")
        await asyncio.sleep(0.1)


async def _post_all(target: RawTarget, deliveries: list[tuple[str, Delivery]]) -> dict[str, float]:
    """Post every delivery (SENDERS at a time); when each was posted (wall clock)."""
    queue = list(reversed(deliveries))
    posted: dict[str, float] = {}

    async def sender() -> None:
        while queue:
            delivery_id, delivery = queue.pop()
            posted[delivery_id] = time.time()
            status = await target.send(delivery.headers(delivery_id), delivery.body)
            if status != "202":
                raise RuntimeError(f"delivery {delivery_id} answered {status}")

    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    return posted


async def _completions(redis: Redis, key: str, count: int) -> list[CompletionRecord]:
    """Every completion, once there are ``count`` (XLEN polled every 20 ms)."""
    deadline = time.monotonic() + _DONE_WITHIN
    while (recorded := int(await redis.xlen(key))) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{recorded} of {count} completions after {_DONE_WITHIN:g} s")
        await asyncio.sleep(0.02)
    entries = await read_entries(redis, key, CompletionRecord, count=count + 1000)
    return [record for _, record in entries if record is not None]


async def measure_run(env: dict[str, str], *, workers: int, events: int) -> dict[str, Any]:
    prefix = unique_prefix(f"e2e-{workers}w")
    settings = settings_for(env, SWITCHYARD_REDIS_PREFIX=prefix)
    secret = settings.require_webhook_secret()
    run_id = uuid.uuid4().hex[:8]
    deliveries = [
        (f"e2e-{run_id}-{number}", Delivery(secret, number=number))
        for number in range(1, WARMUP_EVENTS + events + 1)
    ]
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        async with _pipeline(env, prefix, workers) as pipeline:
            target = RawTarget(f"{pipeline.service_url}/webhooks/github")
            key = Keys(prefix).completions
            try:
                await _post_all(target, deliveries[:WARMUP_EVENTS])
                await _completions(redis, key, WARMUP_EVENTS)
                cpu_before = {**pipeline.cpu(), "redis": await redis_cpu_seconds(redis)}
                cpu_before["load generator"] = time.process_time()
                start = time.time()
                posted = await _post_all(target, deliveries[WARMUP_EVENTS:])
                rows = await _completions(redis, key, WARMUP_EVENTS + events)
                cpu_after = {**pipeline.cpu(), "redis": await redis_cpu_seconds(redis)}
                cpu_after["load generator"] = time.process_time()
            finally:
                await target.aclose()
            dead = int(await redis.xlen(Keys(prefix).dead_letters))
    finally:
        await redis.aclose()
        await delete_prefix(settings.redis_url, prefix)
    measured = [row for row in rows if row.delivery_id in posted]
    if len(measured) != events or dead or not all(row.success for row in measured):
        raise RuntimeError(
            f"e2e {workers}w: {len(measured)} of {events} completions, {dead} dead letters"
        )
    last = max(row.at for row in measured)
    rate = events / (last - start)
    sojourn = [row.at - posted[row.delivery_id] for row in measured]
    cpu_ms = {
        role: round((cpu_after[role] or 0.0) - (cpu_before[role] or 0.0), 3) * 1000 / events
        for role in cpu_after
        if cpu_after[role] is not None and cpu_before.get(role) is not None
    }
    result = {
        "events": events,
        "workers": workers,
        "seconds": round(last - start, 3),
        "events_per_s": rate,
        "post_seconds": round(max(posted.values()) - start, 3),
        "event_to_completion_p50_s": percentile(sojourn, 50),
        "event_to_completion_p95_s": percentile(sojourn, 95),
        "cpu_ms_per_event": {role: round(ms, 3) for role, ms in cpu_ms.items()},
    }
    print(
        f"e2e {workers} worker(s): {rate:7.1f} events/s  ({events} events in "
        f"{result['seconds']:.2f} s; posted in {result['post_seconds']:.2f} s; event -> "
        f"completion p50 {result['event_to_completion_p50_s']:.2f} s, p95 "
        f"{result['event_to_completion_p95_s']:.2f} s)",
        flush=True,
    )
    print(
        "    CPU ms per event: " + ", ".join(f"{role} {ms:.2f}" for role, ms in cpu_ms.items()),
        flush=True,
    )
    return result


async def measure(env: dict[str, str], *, events: int, workers: Sequence[int]) -> dict[str, Any]:
    runs = {n: await measure_run(env, workers=n, events=events) for n in workers}
    figures: dict[str, Any] = {"e2e_runs": {f"{n}_workers": r for n, r in runs.items()}}
    if 1 in runs:
        figures["e2e_events_per_s_1_worker"] = runs[1]["events_per_s"]
    if 2 in runs:
        figures["e2e_events_per_s_2_workers"] = runs[2]["events_per_s"]
    if 1 in runs and 2 in runs:
        figures["e2e_scaling_2_over_1"] = runs[2]["events_per_s"] / runs[1]["events_per_s"]
    apps = await measure_apps(env, events=events)  # both systems as github-app receivers
    figures["e2e_github_app"] = apps
    figures["e2e_forwarded_per_s_github_app"] = apps["forwarded_per_s"]
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS} events per run")
    parser.add_argument("--events", type=int, help=f"events per run (default {EVENTS})")
    parser.add_argument("--workers", default="1,2", help="worker counts to run (default 1,2)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    events = args.events or (QUICK_EVENTS if args.quick else EVENTS)
    workers = [int(n) for n in args.workers.split(",") if n.strip()]
    figures = run(measure(stack_env(), events=events, workers=workers))
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
