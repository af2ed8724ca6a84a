"""What the benchmarks share: the stack's settings, child processes that are always cleaned up,
signed GitHub deliveries, Redis prefixes of their own, percentiles, machine facts.

Every child process is started by :func:`child` and stopped (SIGTERM, then SIGKILL after 10 s)
when its block exits, whatever the reason: an error, Ctrl-C, or a SIGTERM of the benchmark
itself (:func:`run` turns SIGTERM into the same cancellation as Ctrl-C).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import platform
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvloop
from redis.asyncio import Redis

from flags.secret import Secret
from service.devtools import redis_prefix, stack, webhook_sender
from service.devtools.child_processes import free_port, stop_process
from service.devtools.webhook_sender import delivery_headers
from service.github.signature import sign
from service.settings import Settings

__all__ = [
    "PYTHON",
    "REPO",
    "SWITCHYARD",
    "Delivery",
    "child",
    "cpu_seconds",
    "delete_prefix",
    "free_port",
    "issue_delivery",
    "log_dir",
    "machine",
    "percentile",
    "redis_cpu_seconds",
    "run",
    "serve",
    "stack_env",
    "unique_prefix",
    "wait_ready",
]

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SWITCHYARD = str(Path(sys.executable).parent / "switchyard")
BENCH_REPOSITORY = "acme/bench"

_T = TypeVar("_T")


def _stack_config() -> stack.StackConfig:
    return stack.StackConfig.from_env(os.environ, repo=REPO)


def stack_env() -> dict[str, str]:
    """The environment, with what ``.stack/env`` holds filled in where it says nothing."""
    env = dict(os.environ)
    env_file = _stack_config().env_file
    if env_file.exists():
        for key, value in stack.read_env_file(env_file).items():
            env.setdefault(key, value)
    if not env.get("UNLEASH_URL"):
        raise SystemExit("bench: no stack; run `make provision` (or `switchyard stack up`) first")
    return env


def log_dir() -> Path:
    """Where the children's output goes (``.stack/bench-logs``)."""
    directory = _stack_config().root / "bench-logs"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def unique_prefix(name: str) -> str:
    """A Redis key prefix no other run (or engineer) uses."""
    return f"bench-{name}-{uuid.uuid4().hex[:8]}"


def settings_for(env: Mapping[str, str], **overrides: str) -> Settings:
    return Settings.from_env({**env, **overrides})


@contextlib.asynccontextmanager
async def child(
    argv: Sequence[str], *, env: Mapping[str, str], name: str, pipes: bool = False
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``argv`` in the background, output in ``log_dir()/name.log`` (with ``pipes``, only
    stderr: stdin and stdout are pipes to talk to it); stopped on the way out."""
    log = log_dir() / f"{name}.log"
    with log.open("wb") as output:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE if pipes else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if pipes else output,
            stderr=output if pipes else asyncio.subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        try:
            await _stop(proc)
        except BaseException:  # interrupted while stopping it: no more patience
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.stdin is not None:
        proc.stdin.close()  # a child reading its stdin sees the end first
    await stop_process(proc, grace_seconds=10)


async def wait_ready(
    url: str, proc: asyncio.subprocess.Process, *, name: str, within: float = 30
) -> None:
    """Until ``GET url`` answers 200; fails early (with the log's tail) if ``proc`` exits."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                break
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    tail = (log_dir() / f"{name}.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"{name} did not become ready at {url}:\n{tail}")


@contextlib.asynccontextmanager
async def serve(env: Mapping[str, str], *, name: str, own_port: bool = False) -> AsyncIterator[str]:
    """A ``switchyard serve`` on ``env``, ready; yields its base URL. With ``own_port`` it binds
    a free loopback port (``SWITCHYARD_URL`` and ``SWITCHYARD_PORT`` set to it), else the port
    of ``env``'s ``SWITCHYARD_URL`` (where Unleash's addon calls). Stopped on the way out."""
    env = dict(env)
    if own_port:
        port = free_port()
        env |= {"SWITCHYARD_URL": f"http://127.0.0.1:{port}", "SWITCHYARD_PORT": str(port)}
    base = settings_for(env).service_url.rstrip("/")
    argv = [SWITCHYARD, "serve", "--log-level", "warning"]
    async with child(argv, env=env, name=name) as proc:
        await wait_ready(f"{base}/readyz", proc, name=name)
        yield base


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between the closest ranks; NaN if empty."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Delivery:
    """One signed ``issues`` delivery body; headers with a fresh delivery id each time.

    GitHub's signature covers the body only, so one body signed once serves any number of
    distinct deliveries (the dedupe is by ``X-GitHub-Delivery``).
    """

    def __init__(self, secret: Secret, *, number: int, repository: str = BENCH_REPOSITORY) -> None:
        self.number = number
        self.body = issue_delivery(number, repository=repository)
        self._signature = sign(secret, self.body)

    def headers(self, delivery_id: str) -> dict[str, str]:
        return delivery_headers(event="issues", delivery_id=delivery_id, signature=self._signature)


def issue_delivery(number: int, *, repository: str = BENCH_REPOSITORY) -> bytes:
    """An ``issues`` ``opened`` payload, shaped like GitHub's (the fields intake reads)."""
    return webhook_sender.issue_delivery(
        repository=repository, number=number, title=f"Benchmark issue {number}"
    ).body


async def delete_prefix(redis_url: str, prefix: str) -> int:
    """Delete every key under ``prefix:``; how many there were."""
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        return await redis_prefix.delete_prefix(redis, prefix)
    finally:
        await redis.aclose()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (Linux ``/proc``; None elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state is fields[0]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def redis_cpu_seconds(redis: Redis) -> float:
    """User + system CPU time the Redis server has used so far."""
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` on uvloop (as uvicorn does); SIGTERM cancels it like Ctrl-C, so every
    ``child`` block stops its process on the way out."""

    async def guarded() -> _T:
        task = asyncio.current_task()
        if task is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await main

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(guarded())
