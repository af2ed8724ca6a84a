"""The ``switchyard`` worker, dead-letter and simulator commands as real OS processes: workers
SIGKILLed mid-dispatch lose nothing and dispatch nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Issue, System
from service.devtools.child_processes import free_port
from service.pipeline.jobs import Job, JobState, JobStore, job_id_for
from service.pipeline.stream import EventStream, StreamEntry
from tests.pipeline.test_worker import Sims, drained, eventually, issue_body, simulators
from tests.processes import act_id, kill_mid_dispatch, process, run, started, switchyard_env

pytestmark = pytest.mark.integration


@pytest.fixture
def worker_env(stack_env: dict[str, str], prefix: str, tmp_path: Path) -> dict[str, str]:
    return switchyard_env(stack_env, prefix=prefix, cache_dir=tmp_path / "flag-cache")


async def test_sigkilled_workers_lose_nothing_and_dispatch_nothing_twice(
    worker_env: dict[str, str],
    redis_client: Redis,
    prefix: str,
    tmp_path: Path,
    flags_reset: UnleashAdmin,
) -> None:
    stream = EventStream(redis_client, prefix=prefix)
    deliveries = [f"kill-{n}" for n in range(1, 21)]
    async with simulators() as sims:
        await sims.control(System.TYPESCRIPT, accept_delay_ms=250)  # killed while it waits
        env = {
            **worker_env,
            "SWITCHYARD_TYPESCRIPT_URL": sims.urls[System.TYPESCRIPT],
            "SWITCHYARD_PYTHON_URL": sims.urls[System.PYTHON],
        }
        options = ["--claim-idle-ms", "1500", "--lock-ttl-seconds", "2", "--max-attempts", "3"]

        def worker(name: str) -> contextlib.AbstractAsyncContextManager[Any]:
            return process(
                "worker", "--consumer", name, *options, env=env, log=tmp_path / f"{name}.log"
            )

        async with worker("A") as a, worker("B") as b, contextlib.AsyncExitStack() as later:
            await started(tmp_path / "A.log", tmp_path / "B.log")
            for n, delivery in enumerate(deliveries[:10], start=1):
                await stream.append(delivery_id=delivery, event="issues", body=issue_body(n))
            killed = await kill_mid_dispatch(a, "A", redis=redis_client, prefix=prefix, sims=sims)

            c = await later.enter_async_context(worker("C"))
            await started(tmp_path / "C.log")
            for n, delivery in enumerate(deliveries[10:], start=11):
                await stream.append(delivery_id=delivery, event="issues", body=issue_body(n))
            killed += await kill_mid_dispatch(b, "B", redis=redis_client, prefix=prefix, sims=sims)

            await eventually(lambda: drained(redis_client, stream), what="C to finish everything")
            c.send_signal(signal.SIGTERM)  # a graceful stop
            assert await asyncio.wait_for(c.wait(), timeout=10) == 0
        await assert_each_dispatched_once(sims, redis_client, prefix, deliveries)
        assert killed, "no worker was killed between sending a job and hearing the 202"
        at_agent = await sims.jobs(System.TYPESCRIPT)
        for delivery in killed:  # sent again by the claimer; the agent's job_id dedupe held
            assert (
                at_agent[act_id(delivery)]["received"],
                at_agent[act_id(delivery)]["acted"],
            ) == (2, 1)
    assert await stream.dead_letters() == []


async def assert_each_dispatched_once(
    sims: Sims, redis: Redis, prefix: str, deliveries: list[str]
) -> None:
    jobs = JobStore(redis, prefix=prefix)
    ids = [act_id(delivery) for delivery in deliveries]
    states = [getattr(await jobs.get(job_id), "state", None) for job_id in ids]
    assert states == [JobState.DISPATCHED] * len(ids)
    seen = await sims.jobs(System.TYPESCRIPT)
    assert sorted(seen) == sorted(ids)
    assert {job_id: job["acted"] for job_id, job in seen.items()} == dict.fromkeys(ids, 1)
    assert await sims.jobs(System.PYTHON) == {}


async def test_worker_without_agent_urls_names_the_missing_variable(
    worker_env: dict[str, str],
) -> None:
    env = {
        k: v for k, v in worker_env.items() if not k.endswith(("_TYPESCRIPT_URL", "_PYTHON_URL"))
    }
    code, output = await run("worker", env=env)
    assert code == 2
    assert "SWITCHYARD_TYPESCRIPT_URL" in output


async def test_dead_letters_are_listed_and_replayed_with_their_jobs_reset(
    worker_env: dict[str, str], redis_client: Redis, prefix: str
) -> None:
    stream, jobs = EventStream(redis_client, prefix=prefix), JobStore(redis_client, prefix=prefix)
    entry = StreamEntry("1-1", "dl-1", "issues", received_at=0.0, body=issue_body(31))
    await stream.bury(entry, system="typescript", error="answered 503", attempts=3)
    job_id = job_id_for("dl-1", System.TYPESCRIPT, dry_run=False)
    await jobs.record(
        Job(job_id, "dl-1", Issue("acme/widgets", 31), System.TYPESCRIPT, False, JobState.DEAD)
    )

    code, output = await run("dead-letters", "--json", env=worker_env)
    assert code == 0, output
    [row] = json.loads(output)
    assert (row["delivery_id"], row["system"], row["attempts"]) == ("dl-1", "typescript", 3)

    code, output = await run("dead-letters", "replay", "--all", "--json", env=worker_env)
    assert code == 0, output
    [replayed] = json.loads(output)["replayed"]
    assert replayed["dead_id"] == row["dead_id"]
    assert await stream.dead_letters() == []
    again: Any = await redis_client.xrange(
        stream.key, min=replayed["entry_id"], max=replayed["entry_id"]
    )
    assert again[0][1]["delivery_id"] == "dl-1"
    job = await jobs.get(job_id)
    assert job is not None and job.state is JobState.PENDING  # DEAD no longer blocks it

    code, output = await run("dead-letters", "replay", "1-2", env=worker_env)
    assert code == 1 and "no dead letter" in output


async def test_simulate_agent_serves_until_terminated(
    worker_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    args = ["simulate-agent", "--system", "python", "--port", str(port), "--latency-ms", "10"]
    async with (
        process(*args, env=worker_env, log=tmp_path / "sim.log") as sim,
        httpx.AsyncClient(timeout=2) as http,
    ):

        async def healthy() -> bool:
            with contextlib.suppress(httpx.TransportError):
                response = await http.get(f"http://127.0.0.1:{port}/health")
                return bool(response.json()["system"] == "python")
            return False

        await eventually(healthy, what="the simulator")
        sim.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert await asyncio.wait_for(sim.wait(), timeout=10) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in (tmp_path / "sim.log").read_text()

    env = {k: v for k, v in worker_env.items() if k != "SWITCHYARD_AGENT_SECRET"}
    code, output = await run(*args, env=env)
    assert code == 2 and "SWITCHYARD_AGENT_SECRET" in output
