"""Real ``switchyard`` OS processes for the tests: workers, services, simulated agents, and
outages of the stack's servers. Every process started here is stopped and reaped on the way
out, also when the test fails (SIGTERM, then SIGKILL if it does not stop in time).

Shared by ``tests/pipeline/test_worker_process.py``, ``tests/flags/test_unleash_outage.py`` and
``tests/reliability/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from flags.model import System
from service.devtools import stack
from service.devtools.child_processes import free_port, stop_process
from service.pipeline.jobs import JobState, JobStore, job_id_for
from service.pipeline.stream import GROUP, EventStream
from service.settings import Settings
from tests import stack_lock
from tests.conftest import REPO
from tests.pipeline.test_worker import Sims, eventually

__all__ = [
    "SWITCHYARD",
    "CliResult",
    "RedisServer",
    "act_id",
    "agent_processes",
    "kill_mid_dispatch",
    "pending_of",
    "process",
    "redis_server",
    "run",
    "run_cli",
    "service_process",
    "started",
    "switchyard_env",
    "unleash_outage",
]

SWITCHYARD = str(Path(sys.executable).parent / "switchyard")
_STOP_SECONDS = 15
# How long a process may take to start answering. A healthy start returns within a second or two
# (the waits poll every 50 ms); on a 2-core machine loaded by other work, importing the service
# has taken over 30 s, so the bound is generous: it only decides when a start counts as failed.
_START_SECONDS = 120


def switchyard_env(
    stack_env: Mapping[str, str], *, prefix: str, cache_dir: Path, **extra: str
) -> dict[str, str]:
    """The environment of a ``switchyard`` process on the test stack, with the test's own Redis
    prefix and flag cache; ``extra`` overrides (``REDIS_URL=...``, agent URLs, ...)."""
    return {
        **os.environ,
        **stack_env,
        "SWITCHYARD_REDIS_PREFIX": prefix,
        "SWITCHYARD_FLAG_CACHE_DIR": str(cache_dir),
        "SWITCHYARD_FLAG_REFRESH_SECONDS": "1",
        **extra,
    }


async def _stop(proc: asyncio.subprocess.Process) -> None:
    await stop_process(proc, grace_seconds=_STOP_SECONDS)


@contextlib.asynccontextmanager
async def process(
    *args: str, env: Mapping[str, str], log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``switchyard ARGS`` in the background, output to ``log``; stopped and reaped after."""
    with log.open("ab") as output:
        proc = await asyncio.create_subprocess_exec(
            SWITCHYARD, *args, env=dict(env), stdout=output, stderr=asyncio.subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        await _stop(proc)


@dataclasses.dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, f"exit {self.code}: {self.stderr or self.stdout}"
        return json.loads(self.stdout)


async def run_cli(*args: str, env: Mapping[str, str], within: float = 60) -> CliResult:
    """``switchyard ARGS`` to completion, stdout and stderr apart (``--json`` goes to stdout)."""
    proc = await asyncio.create_subprocess_exec(
        SWITCHYARD,
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=within)
    finally:
        await _stop(proc)
    return CliResult(int(proc.returncode or 0), out.decode(), err.decode())


async def run(*args: str, env: Mapping[str, str]) -> tuple[int, str]:
    """``switchyard ARGS`` to completion: exit code and output (stdout, then stderr)."""
    result = await run_cli(*args, env=env, within=_START_SECONDS)
    return result.code, result.stdout + result.stderr


async def started(*logs: Path, within: float = _START_SECONDS) -> None:
    """Wait for each worker's "consuming" log line."""

    async def check() -> bool:
        return all(log.exists() and "consuming" in log.read_text() for log in logs)

    await eventually(check, what=f"workers {[log.stem for log in logs]} to start", within=within)


async def _answers(url: str) -> bool:
    async with httpx.AsyncClient(timeout=1) as http:
        with contextlib.suppress(httpx.TransportError):
            return (await http.get(url)).status_code == 200
    return False


@contextlib.asynccontextmanager
async def service_process(env: Mapping[str, str], log: Path) -> AsyncIterator[str]:
    """``switchyard serve`` on a free port (its own ``SWITCHYARD_URL``); yields its URL once
    ``/healthz`` answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    own = {**env, "SWITCHYARD_URL": url, "SWITCHYARD_PORT": str(port)}
    async with process("serve", "--log-level", "warning", env=own, log=log) as proc:

        async def up() -> bool:
            if proc.returncode is not None:
                raise AssertionError(f"switchyard serve exited; see {log}")
            return await _answers(f"{url}/healthz")

        await eventually(up, what=f"the service on port {port}", within=_START_SECONDS)
        yield url


@contextlib.asynccontextmanager
async def agent_processes(
    env: Mapping[str, str], logs: Path, *, latency_ms: dict[System, int] | None = None
) -> AsyncIterator[Sims]:
    """Both agent systems as ``switchyard simulate-agent`` processes (success rate 1); their
    callbacks go to whatever ``callback_url`` the workers send."""
    latency = {System.TYPESCRIPT: 20, System.PYTHON: 20, **(latency_ms or {})}
    ports = {system: free_port() for system in System}
    urls = {system: f"http://127.0.0.1:{port}" for system, port in ports.items()}
    async with contextlib.AsyncExitStack() as processes:
        for system in System:
            args = ["simulate-agent", "--system", system.value, "--port", str(ports[system])]
            args += ["--latency-ms", str(latency[system]), "--success-rate", "1", "--seed", "1"]
            log = logs / f"agent-{system.value}.log"
            await processes.enter_async_context(process(*args, env=env, log=log))
        for system in System:
            await eventually(
                lambda system=system: _answers(f"{urls[system]}/health"),  # type: ignore[misc]
                what=f"the {system} simulator",
                within=_START_SECONDS,
            )
        async with httpx.AsyncClient(timeout=10) as http:
            yield Sims(urls, http)


async def pending_of(redis: Redis, stream: EventStream) -> dict[str, int]:
    """Pending entries per consumer (XPENDING summary); empty before the group exists."""
    try:
        summary = await redis.xpending(stream.key, GROUP)
    except ResponseError:
        return {}
    return {str(row["name"]): int(row["pending"]) for row in summary.get("consumers") or []}


def act_id(delivery: str, system: System = System.TYPESCRIPT) -> str:
    return job_id_for(delivery, system, dry_run=False)


async def kill_mid_dispatch(
    proc: asyncio.subprocess.Process, name: str, *, redis: Redis, prefix: str, sims: Sims
) -> list[str]:
    """SIGKILL the worker while it waits for an agent's 202 (the agent already has the job);
    the deliveries it died holding whose acting job was still pending."""
    stream, jobs = EventStream(redis, prefix=prefix), JobStore(redis, prefix=prefix)

    async def held() -> list[str]:
        rows = await redis.xpending_range(stream.key, GROUP, "-", "+", 100, consumername=name)
        deliveries = []
        for row in rows:
            entry: Any = await redis.xrange(stream.key, row["message_id"], row["message_id"])
            deliveries += [str(fields["delivery_id"]) for _, fields in entry]
        return deliveries

    async def pending(delivery: str) -> bool:
        for system in System:
            job = await jobs.get(act_id(delivery, system))
            if job is not None and job.state is JobState.PENDING:
                return True
        return False

    async def waiting_for_an_agent() -> bool:
        at_agents = {job_id for system in System for job_id in await sims.jobs(system)}
        for delivery in await held():
            sent = {act_id(delivery, system) for system in System} & at_agents
            if sent and await pending(delivery):
                return True
        return False

    await eventually(waiting_for_an_agent, what=f"worker {name} to be mid-dispatch")
    proc.send_signal(signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL
    deliveries = await held()
    assert deliveries, f"worker {name} died holding no entries"
    return [delivery for delivery in deliveries if await pending(delivery)]


@dataclasses.dataclass
class RedisServer:
    """A ``redis-server`` of the test's own (loopback, free port, own data directory) that can
    be stopped and started again on the same port and data, like a restarted server."""

    directory: Path
    config: dict[str, str]
    port: int = dataclasses.field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        args = ["--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory)]
        args += [arg for key, value in self.config.items() for arg in (f"--{key}", value)]
        with (self.directory / "redis.log").open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                "redis-server", *args, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        client = Redis.from_url(self.url)
        try:

            async def answers() -> bool:
                with contextlib.suppress(RedisError):
                    return bool(await client.ping())
                return False

            await eventually(answers, what=f"redis-server on port {self.port}")
        finally:
            await client.aclose()

    async def stop(self) -> None:
        """SIGTERM: Redis writes and fsyncs its AOF, then exits (a graceful restart)."""
        if self.proc is not None:
            await _stop(self.proc)
            self.proc = None


@contextlib.asynccontextmanager
async def redis_server(directory: Path, config: Mapping[str, str]) -> AsyncIterator[RedisServer]:
    """A running :class:`RedisServer` with ``config`` (``{"appendonly": "yes", ...}``)."""
    server = RedisServer(directory, dict(config))
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def unleash_outage(settings: Settings) -> AsyncIterator[None]:
    """Stop the stack's real Unleash (by its pid file) for the block; start it again after,
    through the same code as ``switchyard stack up`` (which waits until it is healthy). Other
    test sessions on the same stack are kept out meanwhile (:mod:`tests.stack_lock`)."""
    config = stack.StackConfig.from_env(os.environ, repo=REPO)
    async with stack_lock.exclusive(config.root):  # other sessions on this stack wait
        os.kill(int((config.pids / "unleash.pid").read_text()), signal.SIGTERM)
        try:

            async def down() -> bool:
                return not await _answers(f"{settings.unleash_url}/health")

            await eventually(down, what="Unleash to stop", within=20)
            yield
        finally:
            await asyncio.to_thread(stack.up, config)
