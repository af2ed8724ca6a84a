"""Webhook intake: ``POST /webhooks/github`` of the real app against a bare Starlette ceiling.

Two servers run side by side, each in its own process under the same uvicorn settings
(:data:`UVICORN_OPTIONS`, what ``switchyard serve`` uses: uvloop and httptools when installed,
no access log):

* ``app``: the real service, ``service.app.create_app`` with the stack's settings and a Redis
  prefix of this run's own: signature check, parsing, the dedupe + ``XADD`` Lua script, the
  outcome counter;
* ``bare``: a Starlette app whose one endpoint reads the body and answers 202: the ceiling;
* ``xadd``: the same plus one ``XADD`` of the body through redis-py: the floor of any intake
  that persists a delivery before answering, as DESIGN.md requires (printed beside the ratio,
  so what Switchyard's own code costs is visible apart from the unavoidable Redis round trip).

The load comes from this process (:mod:`bench.loadgen`, on loopback, keep-alive connections):
one signed ``issues`` body (GitHub signs the body only) with a distinct ``X-GitHub-Delivery``
per request. Two measurements:

* **max throughput** of each server, closed loop: ``--concurrency`` clients post back to back
  for ``--seconds``, after a warm-up; requests/s and the latency percentiles;
* **latency at a fixed rate** of ``bare`` and ``app``, open loop: requests are due every
  1/``--rate`` s whatever the answers do, and latency counts from when a request was *due*
  (no coordinated omission).

The generator shares the machine with the servers (and Redis), so the ceiling is the bare
server *as this generator can drive it*; when the generator is the limit the ratio reads high.
Each run prints the cores the server process and the generator used: a server near 1.0 is
CPU-bound (uvicorn runs one process), which is what a ceiling should be.
That is why the default client is ``raw`` (a few microseconds per request), not httpx
(``--client httpx`` saturates at about 1,400 requests/s here, below both servers).
Run alone: ``python bench/intake.py [--quick] [--json] [--client raw|httpx]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn
from redis.asyncio import BlockingConnectionPool, Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench import loadgen
from bench.common import (
    PYTHON,
    Delivery,
    child,
    cpu_seconds,
    delete_prefix,
    free_port,
    percentile,
    run,
    settings_for,
    stack_env,
    unique_prefix,
    wait_ready,
)
from service.app import create_app
from service.keys import Keys
from service.settings import Settings

__all__ = ["UVICORN_OPTIONS", "LoadResult", "Options", "bare_app", "main", "measure"]

UVICORN_OPTIONS: dict[str, Any] = {
    "host": "127.0.0.1",
    "log_level": "warning",
    "access_log": False,
    "lifespan": "on",
}
PATH = "/webhooks/github"
SERVERS = ("bare", "xadd", "app")
TARGET_RATIO = 0.5
TARGET_P99_MS = 10.0


def bare_app() -> Starlette:
    """The ceiling: read the body, answer 202, nothing else."""

    async def accept(request: Request) -> Response:
        await request.body()
        return Response(status_code=202)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    return Starlette(
        routes=[Route(PATH, accept, methods=["POST"]), Route("/healthz", healthz)],
    )


def xadd_app(settings: Settings) -> Starlette:
    """The floor of a persisted intake: read the body, one ``XADD`` through redis-py (the
    service's kind of pool), answer 202. No signature, no parsing, no dedupe, no counter."""
    state: dict[str, Redis] = {}
    key = Keys(settings.redis_prefix).xadd_floor

    async def accept(request: Request) -> Response:
        body = await request.body()
        await state["redis"].xadd(key, {"body": body.decode()})
        return Response(status_code=202)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = BlockingConnectionPool.from_url(
            settings.redis_url, decode_responses=True, max_connections=200, timeout=5
        )
        state["redis"] = Redis.from_pool(pool)
        yield
        await state["redis"].aclose()

    return Starlette(
        routes=[Route(PATH, accept, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lifespan,
    )


def _serve(kind: str, port: int) -> None:
    settings = Settings.from_env(os.environ)
    apps: dict[str, Callable[[], Starlette]] = {
        "app": lambda: create_app(settings),
        "xadd": lambda: xadd_app(settings),
        "bare": bare_app,
    }
    uvicorn.run(apps[kind](), port=port, **UVICORN_OPTIONS)


@dataclasses.dataclass(frozen=True)
class LoadResult:
    """One load run against one server (latencies in milliseconds)."""

    server: str
    kind: str  # "max" (closed loop) or "paced" (open loop)
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    offered_rps: float | None = None
    server_cpu: float | None = None  # cores the server process used over the run (incl. warm-up)
    generator_cpu: float | None = None  # cores this load generator used

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def line(self) -> str:
        offered = f" (offered {self.offered_rps:.0f}/s)" if self.offered_rps else ""
        return (
            f"intake {self.server:4} {self.kind:5}: {self.rps:8.1f} req/s{offered}  "
            f"p50 {self.p50_ms:6.2f} ms  p90 {self.p90_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  "
            f"max {self.max_ms:7.2f} ms  n={self.requests}  {dict(self.statuses)}  "
            f"cpu: server {_cores(self.server_cpu)}, generator {_cores(self.generator_cpu)}"
        )


def _cores(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def _result(
    server: str,
    kind: str,
    latencies: Sequence[float],
    seconds: float,
    statuses: Counter[str],
    offered: float | None = None,
) -> LoadResult:
    millis = [x * 1000 for x in latencies]
    return LoadResult(
        server=server,
        kind=kind,
        requests=len(millis),
        seconds=round(seconds, 3),
        rps=len(millis) / seconds if seconds > 0 else 0.0,
        p50_ms=percentile(millis, 50),
        p90_ms=percentile(millis, 90),
        p99_ms=percentile(millis, 99),
        max_ms=max(millis, default=float("nan")),
        statuses=dict(statuses),
        offered_rps=offered,
    )


@dataclasses.dataclass(frozen=True)
class Options:
    seconds: float = 8.0
    paced_seconds: float = 10.0
    warmup: float = 2.0
    concurrency: int = 16
    rate: float = 300.0
    client: str = "raw"

    @classmethod
    def quick(cls) -> Options:
        return cls(seconds=3.0, paced_seconds=4.0, warmup=1.0)


async def _load(
    kind: str, server: str, url: str, delivery: Delivery, options: Options, *, pid: int
) -> LoadResult:
    """One run; also how many cores the server and this generator used meanwhile."""
    connections = options.concurrency if kind == "max" else 256
    load = loadgen.target(
        options.client, url, delivery.body, delivery.headers, connections=connections
    )
    started, server_before, generator_before = (
        time.monotonic(),
        cpu_seconds(pid),
        time.process_time(),
    )
    try:
        if kind == "max":
            seen = await loadgen.closed_loop(
                load,
                concurrency=options.concurrency,
                seconds=options.seconds,
                warmup=options.warmup,
            )
            offered = None
        else:
            seen = await loadgen.open_loop(
                load, rate=options.rate, seconds=options.paced_seconds, warmup=options.warmup
            )
            offered = options.rate
    finally:
        await load.aclose()
    wall = time.monotonic() - started
    server_after = cpu_seconds(pid)
    result = _result(server, kind, seen.latencies, seen.seconds, seen.statuses, offered)
    return dataclasses.replace(
        result,
        server_cpu=None
        if server_before is None or server_after is None
        else (server_after - server_before) / wall,
        generator_cpu=(time.process_time() - generator_before) / wall,
    )


async def measure(env: dict[str, str], options: Options) -> dict[str, Any]:
    """Both servers, both measurements; the figures ``bench/results`` keeps."""
    prefix = unique_prefix("intake")
    settings = settings_for(env, SWITCHYARD_REDIS_PREFIX=prefix)
    delivery = Delivery(settings.require_webhook_secret(), number=4242)
    server_env = {**env, "SWITCHYARD_REDIS_PREFIX": prefix}
    ports = {server: free_port() for server in SERVERS}
    results: dict[str, LoadResult] = {}
    runs = [("max", server) for server in SERVERS] + [("paced", "bare"), ("paced", "app")]
    try:
        async with contextlib.AsyncExitStack() as servers:
            pids: dict[str, int] = {}
            for server in SERVERS:
                name = f"intake-{server}"
                proc = await servers.enter_async_context(
                    child(_serve_argv(server, ports[server]), env=server_env, name=name)
                )
                pids[server] = proc.pid
                ready = "/readyz" if server == "app" else "/healthz"
                await wait_ready(f"http://127.0.0.1:{ports[server]}{ready}", proc, name=name)
            for kind, server in runs:
                url = f"http://127.0.0.1:{ports[server]}{PATH}"
                result = await _load(kind, server, url, delivery, options, pid=pids[server])
                results[f"{server}_{kind}"] = result
                print(result.line(), flush=True)
                _check(result)
        stored = await _stream_length(settings.redis_url, prefix)
    finally:
        await delete_prefix(settings.redis_url, prefix)
    accepted = sum(
        result.statuses.get("202", 0) for key, result in results.items() if key.startswith("app")
    )
    ratio = results["app_max"].rps / results["bare_max"].rps
    print(
        f"intake: app/bare = {ratio:.2f} (target >= {TARGET_RATIO}), app/xadd = "
        f"{results['app_max'].rps / results['xadd_max'].rps:.2f}; p99 at "
        f"{options.rate:.0f}/s = {results['app_paced'].p99_ms:.2f} ms (target <= "
        f"{TARGET_P99_MS:g} ms); stream entries {stored} >= counted 202s {accepted}",
        flush=True,
    )
    return {
        "intake_ratio": ratio,
        "intake_p99_ms": results["app_paced"].p99_ms,
        "intake_p50_ms": results["app_paced"].p50_ms,
        "intake_rps": results["app_max"].rps,
        "intake_ceiling_rps": results["bare_max"].rps,
        "intake_ceiling_p99_ms_paced": results["bare_paced"].p99_ms,
        "intake_xadd_floor_rps": results["xadd_max"].rps,
        "intake_ratio_to_xadd_floor": results["app_max"].rps / results["xadd_max"].rps,
        "intake_paced_rate": options.rate,
        "intake_stream_entries": stored,
        "intake_runs": {key: result.as_dict() for key, result in results.items()},
        "intake_options": dataclasses.asdict(options),
    }


def _check(result: LoadResult) -> None:
    """A run whose answers were not 202 measured something else: stop."""
    refused = result.requests - result.statuses.get("202", 0)
    if result.requests == 0 or refused > 0:
        raise RuntimeError(f"intake {result.server} {result.kind}: not all 202: {result.statuses}")


def _serve_argv(kind: str, port: int) -> list[str]:
    return [PYTHON, str(Path(__file__).resolve()), "--serve", kind, "--port", str(port)]


async def _stream_length(redis_url: str, prefix: str) -> int:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        return int(await redis.xlen(Keys(prefix).events))
    finally:
        await redis.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--concurrency", type=int, help="closed-loop clients (default 16)")
    parser.add_argument("--client", choices=loadgen.CLIENTS, help="load client (default raw)")
    parser.add_argument("--rate", type=float, help="open-loop requests/s (default 300)")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve, args.port)
        return 0
    options = Options.quick() if args.quick else Options()
    if args.concurrency:
        options = dataclasses.replace(options, concurrency=args.concurrency)
    if args.rate:
        options = dataclasses.replace(options, rate=args.rate)
    if args.client:
        options = dataclasses.replace(options, client=args.client)
    figures = run(measure(stack_env(), options))
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
