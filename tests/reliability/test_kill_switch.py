"""The kill switch is flipped while python has work in flight: that work is cancelled and
handed to typescript, and no issue is acted on by both systems."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Mode, System
from service.routing.ownership import OwnershipStore
from tests.pipeline.test_worker import Sims, eventually
from tests.processes import run
from tests.reliability.ledger import GitHub, assert_clean, read_ledger, report, settle
from tests.reliability.scenario import set_flags, workers

pytestmark = pytest.mark.integration

CASE = "kill_switch_in_flight"


async def test_kill_switch_cancels_python_work_in_flight_and_typescript_takes_over(
    flags_reset: UnleashAdmin,
    agents: Sims,
    worker_env: dict[str, str],
    github: GitHub,
    redis_client: Redis,
    prefix: str,
    tmp_path: Path,
) -> None:
    await set_flags(flags_reset, mode=Mode.PYTHON_ONLY)
    await agents.control(System.PYTHON, latency_ms=600_000)  # python's work stays in flight
    first = [github.issue_event(number) for number in range(1, 31)]
    # python's issues get more events, and new issues arrive: while the switch flips, and after
    during = [github.issue_event(number, "edited") for number in range(1, 6)]
    during += [github.issue_event(number) for number in range(31, 36)]
    after = [github.issue_event(number, "edited") for number in range(6, 11)]
    after += [github.issue_event(number) for number in range(36, 41)]

    async with workers("K1", "K2", env=worker_env, logs=tmp_path):
        await github.deliver_all(first)

        async def python_has_them_all() -> bool:
            return len((await read_ledger(github, agents)).acted_by(System.PYTHON)) == len(first)

        await eventually(python_has_them_all, what="python to have every first event")
        sending = asyncio.create_task(github.deliver_all(during, concurrency=1))
        code, output = await run(
            "rollback", "--reason", "reliability: kill switch under load", env=worker_env
        )
        assert code == 0, output
        await sending
        await github.deliver_all(after, concurrency=1)

        async def handed_over() -> bool:
            ledger = await read_ledger(github, agents)
            return not ledger.acted_by(System.PYTHON) and all(ledger.acting.values())

        await eventually(handed_over, what="python's work to be handed to typescript", within=30)
        ledger = await settle(github, agents, redis_client, prefix)

    python_jobs = ledger.jobs[System.PYTHON].values()
    report(CASE, github, ledger, python_jobs_cancelled=len(python_jobs))
    assert_clean(CASE, github, ledger)
    assert {job["status"] for job in python_jobs} == {"cancelled"}
    assert ledger.acted_by(System.TYPESCRIPT) == github.accepted
    owners = await OwnershipStore(redis_client, prefix=prefix).counts()
    assert owners == {System.TYPESCRIPT: 40, System.PYTHON: 0}
