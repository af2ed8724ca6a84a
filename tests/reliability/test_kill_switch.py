"""The kill switch is flipped while python has work in flight: that work is cancelled and
handed to typescript, and no issue is acted on by both systems."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import System
from tests.pipeline.test_worker import Sims
from tests.processes import run
from tests.reliability.ledger import GitHub, assert_clean, report, settle
from tests.reliability.scenario import (
    assert_typescript_took_over,
    hold_python_in_flight,
    until_handed_to_typescript,
    until_python_has,
    workers,
)

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
    await hold_python_in_flight(flags_reset, agents)
    first = [github.issue_event(number) for number in range(1, 31)]
    # python's issues get more events, and new issues arrive: while the switch flips, and after
    during = [github.issue_event(number, "edited") for number in range(1, 6)]
    during += [github.issue_event(number) for number in range(31, 36)]
    after = [github.issue_event(number, "edited") for number in range(6, 11)]
    after += [github.issue_event(number) for number in range(36, 41)]

    async with workers("K1", "K2", env=worker_env, logs=tmp_path):
        await github.deliver_all(first)
        await until_python_has(github, agents, first)
        sending = asyncio.create_task(github.deliver_all(during, concurrency=1))
        code, output = await run(
            "rollback", "--reason", "reliability: kill switch under load", env=worker_env
        )
        assert code == 0, output
        await sending
        await github.deliver_all(after, concurrency=1)
        await until_handed_to_typescript(github, agents)
        ledger = await settle(github, agents, redis_client, prefix)

    report(CASE, github, ledger, python_jobs_cancelled=len(ledger.jobs[System.PYTHON]))
    assert_clean(CASE, github, ledger)
    await assert_typescript_took_over(github, ledger, redis_client, prefix, issues=40)
