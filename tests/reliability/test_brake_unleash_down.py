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
from flags.model import KILL_SWITCH_FLAG, Mode, System
from service.migration.audit import AuditTrail
from service.migration.brake import OVERRIDE_TEXT
from service.pipeline.jobs import job_id_for
from service.routing.ownership import OwnershipStore
from service.settings import Settings
from tests.conftest import RunningService
from tests.pipeline.test_worker import Sims, eventually
from tests.processes import run_cli, unleash_outage
from tests.reliability.ledger import GitHub, assert_clean, read_ledger, report, settle
from tests.reliability.scenario import set_flags, workers

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
    await set_flags(flags_reset, mode=Mode.PYTHON_ONLY)
    await agents.control(System.PYTHON, latency_ms=600_000)  # python's work stays in flight
    first = [github.issue_event(number) for number in range(1, 21)]
    during = [github.issue_event(number, "edited") for number in range(1, 6)]
    during += [github.issue_event(number) for number in range(21, 26)]
    after = [github.issue_event(number, "edited") for number in range(6, 16)]
    after += [github.issue_event(number) for number in range(26, 41)]

    async with workers("B1", "B2", env=worker_env, logs=tmp_path):
        await github.deliver_all(first)

        async def python_has_them_all() -> bool:
            return len((await read_ledger(github, agents)).acted_by(System.PYTHON)) == len(first)

        await eventually(python_has_them_all, what="python to have every first event")
        async with unleash_outage(settings):
            sending = asyncio.create_task(github.deliver_all(during, concurrency=1))
            pulled = await run_cli(
                "rollback", "--reason", "reliability: brake with Unleash down", env=worker_env
            )
            assert pulled.code == 0, pulled.stderr
            assert OVERRIDE_TEXT in pulled.stdout
            await sending
            await github.deliver_all(after, concurrency=4)

            async def handed_over() -> bool:
                ledger = await read_ledger(github, agents)
                return not ledger.acted_by(System.PYTHON) and all(ledger.acting.values())

            await eventually(handed_over, what="python's work handed to typescript", within=30)
            metrics = (await github.http.get(f"{service.url}/metrics")).text
            assert "switchyard_kill_switch_override 1.0" in metrics

        async def unleash_holds_it() -> bool:
            return await flags_reset.is_enabled(KILL_SWITCH_FLAG)

        await eventually(unleash_holds_it, what="the kill switch in Unleash", within=30)
        ledger = await settle(github, agents, redis_client, prefix)

    python_jobs = ledger.jobs[System.PYTHON]
    report(CASE, github, ledger, python_jobs=len(python_jobs))
    assert_clean(CASE, github, ledger)
    new = {job_id_for(delivery.delivery_id, System.PYTHON, dry_run=False) for delivery in after}
    assert not new & set(python_jobs)  # nothing sent after the CLI returned reached python
    assert {job["status"] for job in python_jobs.values()} == {"cancelled"}
    assert ledger.acted_by(System.TYPESCRIPT) == github.accepted
    owners = await OwnershipStore(redis_client, prefix=prefix).counts()
    assert owners == {System.TYPESCRIPT: 40, System.PYTHON: 0}
    changes = [entry.change for entry in await AuditTrail(redis_client, prefix=prefix).recent()]
    assert changes[:2] == ["override_synced", "rollback_override"]
