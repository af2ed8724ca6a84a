"""The stack's Unleash is stopped for 30 s while webhooks keep coming: the service takes every
delivery (no 5xx), and the workers go on routing from the flags they hold (gradual, 50 %),
counted as cached, never degraded to the typescript-only fallback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Mode, System
from service.routing.router import RoutingCounters
from service.settings import Settings
from tests.conftest import RunningService
from tests.pipeline.test_worker import Sims
from tests.processes import unleash_outage
from tests.reliability.ledger import GitHub, assert_clean, report, settle
from tests.reliability.scenario import deliver_and_wait, set_flags, workers

pytestmark = pytest.mark.integration

CASE = "unleash_outage"
OUTAGE_SECONDS = 30.0
PACE_SECONDS = 0.1  # GitHub's pace during the outage: about ten deliveries a second


async def test_unleash_down_for_30_s_under_traffic_routing_goes_on_from_cached_flags(
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
    await set_flags(flags_reset, mode=Mode.GRADUAL, rollout=50)
    await service.runtime.provider.refresh()
    numbers = iter(range(21, 10_000))
    readiness = []
    async with workers("U1", "U2", env=worker_env, logs=tmp_path):
        await deliver_and_wait(github, agents, [github.issue_event(n) for n in range(1, 21)])
        async with unleash_outage(settings), httpx.AsyncClient(timeout=5) as http:
            end = time.monotonic() + OUTAGE_SECONDS
            while time.monotonic() < end:
                number = next(numbers)
                await github.post(github.issue_event(number))
                await github.post(github.issue_event(number - 10, "edited"))  # an older issue
                await asyncio.sleep(PACE_SECONDS)
            readiness.append((await http.get(f"{service.url}/readyz")).json())
        await github.deliver_all(github.issue_event(next(numbers)) for _ in range(20))
        ledger = await settle(github, agents, redis_client, prefix, within=60)

    counted = await RoutingCounters(redis_client, prefix=prefix).read()
    report(CASE, github, ledger, outage_seconds=OUTAGE_SECONDS, routing=counted)
    assert set(github.answers) == {"202"}, github.answers  # not one 5xx, nothing redelivered
    assert_clean(CASE, github, ledger)
    assert readiness[0]["ready"] and readiness[0]["checks"]["flags"] == "stale"
    assert counted["cached_flags"] > 0 and "degraded" not in counted
    # each issue went where the live flags send it: the rollout's bucketing held throughout
    flags = service.runtime.flags
    for delivery_id, systems in ledger.acting.items():
        issue = github.sent[delivery_id].issue
        enabled = flags.snapshot(repository=issue.repository, issue_number=issue.number)
        assert systems == [System.PYTHON if enabled.python_rollout else System.TYPESCRIPT]
    assert ledger.acted_by(System.PYTHON) and ledger.acted_by(System.TYPESCRIPT)
