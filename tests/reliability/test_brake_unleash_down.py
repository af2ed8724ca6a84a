"""The stack's Unleash is stopped, then the kill switch is pulled under traffic: the rollback
sets the break-glass override in Redis, python is given nothing new from the moment the CLI
returns (its in-flight work is cancelled and handed to typescript), and once Unleash is back the
kill switch is written there by the service, within seconds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, System
from service.migration.audit import AuditTrail
from service.migration.brake import OVERRIDE_TEXT
from service.pipeline.jobs import job_id_for
from service.settings import Settings
from tests.conftest import RunningService
from tests.pipeline.test_worker import Sims, eventually
from tests.processes import run_cli, unleash_outage
from tests.reliability.ledger import GitHub, assert_clean, report, settle
from tests.reliability.scenario import (
    assert_typescript_took_over,
    hold_python_in_flight,
    until_handed_to_typescript,
    until_python_has,
    workers,
)

pytestmark = pytest.mark.integration

CASE = "brake_with_unleash_down"


async def test_kill_switch_pulled_while_unleash_is_down_holds_at_once_and_reaches_unleash(
    settings: Settings,
    flags_reset: UnleashAdmin,
    agents: Sims,
    service: RunningService,
    worker_env: dict[str, str],
    github: GitHub,
    redis_client: Redis,
    prefix: str,
    tmp_path: Path,
) -> None:
    await hold_python_in_flight(flags_reset, agents)
    first = [github.issue_event(number) for number in range(1, 21)]
    during = [github.issue_event(number, "edited") for number in range(1, 6)]
    during += [github.issue_event(number) for number in range(21, 26)]
    after = [github.issue_event(number, "edited") for number in range(6, 16)]
    after += [github.issue_event(number) for number in range(26, 41)]

    async with workers("B1", "B2", env=worker_env, logs=tmp_path):
        await github.deliver_all(first)
        await until_python_has(github, agents, first)
        async with unleash_outage(settings):
            sending = asyncio.create_task(github.deliver_all(during, concurrency=1))
            pulled = await run_cli(
                "rollback", "--reason", "reliability: brake with Unleash down", env=worker_env
            )
            assert pulled.code == 0, pulled.stderr
            assert OVERRIDE_TEXT in pulled.stdout
            await sending
            await github.deliver_all(after, concurrency=4)
            await until_handed_to_typescript(github, agents)
            metrics = (await github.http.get(f"{service.url}/metrics")).text
            assert "switchyard_kill_switch_override 1.0" in metrics

        async def unleash_holds_it() -> bool:
            return await flags_reset.is_enabled(KILL_SWITCH_FLAG)

        await eventually(unleash_holds_it, what="the kill switch in Unleash", within=30)
        ledger = await settle(github, agents, redis_client, prefix)

    report(CASE, github, ledger, python_jobs=len(ledger.jobs[System.PYTHON]))
    assert_clean(CASE, github, ledger)
    python_jobs = await assert_typescript_took_over(github, ledger, redis_client, prefix, issues=40)
    new = {job_id_for(delivery.delivery_id, System.PYTHON, dry_run=False) for delivery in after}
    assert not new & set(python_jobs)  # nothing sent after the CLI returned reached python
    changes = [entry.change for entry in await AuditTrail(redis_client, prefix=prefix).recent()]
    assert changes[:2] == ["override_synced", "rollback_override"]
