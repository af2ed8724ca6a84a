"""Concurrency across processes: two ``switchyard serve`` processes take the webhooks, two
``switchyard worker`` processes dispatch them.

- The same delivery posted 50 times at once, half to each service: stored once, acted once.
- The first four events of 40 new issues posted all at once, spread over both services, while
  the rollout is raised from 0 % to 100 % halfway through: every issue gets exactly one owner
  (one claim in the ownership log), all its events go to that owner, each is acted on once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Issue, Mode, System
from flags.transitions import Actor, ActorKind
from service.keys import Keys
from service.migration.control import MigrationControl
from service.routing.ownership import OwnershipStore
from service.settings import Settings
from service.web.webhooks import counts_key
from tests.pipeline.test_worker import Sims, eventually
from tests.processes import service_process
from tests.reliability.ledger import GitHub, assert_clean, report, settle
from tests.reliability.scenario import set_flags, workers

pytestmark = pytest.mark.integration

CASE = "concurrent_deliveries"
SAME = 50
ISSUES = range(2, 42)
ACTIONS = ("opened", "labeled", "assigned", "edited")
OPERATOR = Actor("reliability", ActorKind.HUMAN, "test")


async def test_concurrent_deliveries_across_two_services_and_two_workers_one_owner_one_act(
    settings: Settings,
    flags_reset: UnleashAdmin,
    agents: Sims,
    env: dict[str, str],
    redis_client: Redis,
    prefix: str,
    tmp_path: Path,
) -> None:
    await set_flags(flags_reset, mode=Mode.GRADUAL, rollout=0)
    await agents.control(System.TYPESCRIPT, accept_delay_ms=20)
    await agents.control(System.PYTHON, accept_delay_ms=20)
    agent_urls = {f"SWITCHYARD_{system.name}_URL": url for system, url in agents.urls.items()}
    owners = OwnershipStore(redis_client, prefix=prefix)
    async with (
        service_process({**env, **agent_urls}, tmp_path / "service-a.log") as service_a,
        service_process({**env, **agent_urls}, tmp_path / "service-b.log") as service_b,
        httpx.AsyncClient(limits=httpx.Limits(max_connections=128)) as http,
    ):
        github = GitHub([service_a, service_b], settings.require_webhook_secret(), http)
        worker_env = {**env, **agent_urls, "SWITCHYARD_URL": service_a}
        async with workers("C1", "C2", env=worker_env, logs=tmp_path):
            same = github.issue_event(1)
            answers = await asyncio.gather(
                *(github.post(same, url) for url in [service_a, service_b] * (SAME // 2))
            )
            assert answers == [202] * SAME

            burst = [github.issue_event(number, action) for number in ISSUES for action in ACTIONS]
            sending = asyncio.create_task(github.deliver_all(burst, concurrency=64))

            async def some_owned() -> bool:
                return sum((await owners.counts()).values()) >= 10

            await eventually(some_owned, what="the first claims")
            control = MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix)
            await control.set_rollout(100, actor=OPERATOR, reason="reliability: mid-burst")
            await sending
            ledger = await settle(github, agents, redis_client, prefix, within=60)

    log: Any = await redis_client.xrange(owners.log_key)
    claims = Counter(str(fields["issue"]) for _, fields in log)
    owned = await owners.counts()
    counted = await redis_client.hgetall(counts_key(prefix))
    report(CASE, github, ledger, owners={str(k): v for k, v in owned.items()}, webhooks=counted)
    assert_clean(CASE, github, ledger)
    assert (counted["accepted"], counted["duplicate"]) == (str(1 + len(burst)), str(SAME - 1))
    assert await redis_client.xlen(Keys(prefix).events) == 1 + len(burst)
    issues = [Issue(github.repository, number) for number in (1, *ISSUES)]
    assert claims == Counter({f"{issue.repository}#{issue.number}": 1 for issue in issues})
    for issue in issues:  # all of an issue's deliveries went to its one owner
        owner = await owners.owner(issue)
        assert owner is not None
        acted: set[Any] = {
            system
            for delivery, systems in ledger.acting.items()
            if github.sent[delivery].issue == issue
            for system in systems
        }
        assert acted == {owner.system}, issue
