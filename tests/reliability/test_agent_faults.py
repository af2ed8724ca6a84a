"""The python agent answers 500s for a while, then times out (it takes the job but its answer
comes too late), then recovers: the workers retry, dead-letter what exhausts its tries, and
``switchyard dead-letters replay --all`` brings it back. Nothing is lost, nothing acted twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Mode, System
from service.pipeline.stream import EventStream
from tests.pipeline.test_worker import Sims, drained, eventually
from tests.processes import run
from tests.reliability.ledger import GitHub, assert_clean, report, settle
from tests.reliability.scenario import WORKER_OPTIONS, set_flags, workers

pytestmark = pytest.mark.integration

CASE = "python_agent_faults"
OPTIONS = (*WORKER_OPTIONS, "--agent-timeout-seconds", "0.5")  # three tries of 0.5 s each


async def test_python_agent_500s_and_timeouts_then_recovery_and_replay_lose_nothing(
    flags_reset: UnleashAdmin,
    agents: Sims,
    worker_env: dict[str, str],
    github: GitHub,
    redis_client: Redis,
    prefix: str,
    tmp_path: Path,
) -> None:
    await set_flags(flags_reset, mode=Mode.PYTHON_ONLY)
    stream = EventStream(redis_client, prefix=prefix)

    async def dead_letters(containing: str, at_least: int) -> bool:
        letters = await stream.dead_letters(count=1000)
        return sum(containing in letter.error for letter in letters) >= at_least

    async with workers("F1", "F2", env=worker_env, logs=tmp_path, options=OPTIONS):
        await agents.control(System.PYTHON, fail_status=500)
        await github.deliver_all(github.issue_event(number) for number in range(1, 21))
        await eventually(lambda: dead_letters("answered 500", 3), what="500s to dead-letter")

        # still failing, differently: the job is taken (and runs a long time), but the 202
        # comes after the worker gave up waiting; the retries carry the same job id
        await agents.control(System.PYTHON, fail_status=0, accept_delay_ms=1500, latency_ms=120_000)
        await github.deliver_all(github.issue_event(number) for number in range(21, 41))
        await eventually(lambda: dead_letters("timed out", 3), what="timeouts to dead-letter")

        await agents.control(System.PYTHON, accept_delay_ms=0, latency_ms=20)  # recovered
        await github.deliver_all(github.issue_event(number) for number in range(41, 51))
        await eventually(lambda: drained(redis_client, stream), what="the backlog", within=60)
        buried = len(await stream.dead_letters(count=1000))
        code, output = await run("dead-letters", "replay", "--all", "--json", env=worker_env)
        assert code == 0, output
        replayed = len(json.loads(output)["replayed"])
        ledger = await settle(github, agents, redis_client, prefix, within=60)

    python = ledger.jobs[System.PYTHON].values()
    retried = sum(job["received"] > 1 for job in python)
    report(CASE, github, ledger, dead_lettered=buried, replayed=replayed, retried=retried)
    assert_clean(CASE, github, ledger)
    assert replayed == buried >= 6
    assert await stream.dead_letters() == []
    assert retried >= 3  # the timed-out jobs were sent again under the same id, acted on once
    assert ledger.acted_by(System.PYTHON) == github.accepted
