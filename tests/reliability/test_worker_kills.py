"""Worker processes SIGKILLed mid-dispatch, one after the other, under a stream of webhooks:
nothing is lost and every job is acted on once (the claimer resends the same job id)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Mode, System
from tests.pipeline.test_worker import Sims
from tests.processes import act_id, kill_mid_dispatch, started
from tests.reliability.ledger import GitHub, assert_clean, report, settle
from tests.reliability.scenario import set_flags, worker

pytestmark = pytest.mark.integration

CASE = "sigkill_workers"
KILLS = 4


async def test_workers_sigkilled_mid_dispatch_lose_nothing_and_act_once(
    flags_reset: UnleashAdmin,
    agents: Sims,
    worker_env: dict[str, str],
    github: GitHub,
    redis_client: Redis,
    prefix: str,
    tmp_path: Path,
) -> None:
    await set_flags(flags_reset, mode=Mode.GRADUAL, rollout=50)  # both systems get work
    for system in System:  # every dispatch waits 250 ms for its 202: a window to die in;
        # the work itself outlasts the case, so no completion marks a job done before the
        # claimer of a killed worker's entry has sent it again
        await agents.control(system, accept_delay_ms=250, latency_ms=120_000)
    deliveries = [
        github.issue_event(number, action)
        for number in range(1, 51)
        for action in ("opened", "edited")
    ]
    killed: list[str] = []
    async with contextlib.AsyncExitStack() as running:
        alive = {}
        for name in ("W1", "W2"):
            alive[name] = await running.enter_async_context(
                worker(name, env=worker_env, logs=tmp_path)
            )
        await started(tmp_path / "W1.log", tmp_path / "W2.log")
        sending = asyncio.create_task(github.deliver_all(deliveries, concurrency=4))
        for kill in range(KILLS):
            fresh = f"W{kill + 3}"  # a replacement first: someone is always consuming
            alive[fresh] = await running.enter_async_context(
                worker(fresh, env=worker_env, logs=tmp_path)
            )
            await started(tmp_path / f"{fresh}.log")
            victim = next(iter(alive))
            killed += await kill_mid_dispatch(
                alive.pop(victim), victim, redis=redis_client, prefix=prefix, sims=agents
            )
        await sending
        ledger = await settle(github, agents, redis_client, prefix, within=60)

    report(CASE, github, ledger, kills=KILLS, killed_mid_dispatch=len(killed))
    assert_clean(CASE, github, ledger)
    assert killed, "no worker was killed between sending a job and hearing the 202"
    for delivery in killed:  # sent again by the claimer; the agent's job_id dedupe held
        [job] = [
            ledger.jobs[system][act_id(delivery, system)]
            for system in System
            if act_id(delivery, system) in ledger.jobs[system]
        ]
        assert job["received"] >= 2 and job["acted"] == 1, delivery
