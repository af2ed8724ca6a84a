"""Routing against the real Unleash and Redis: flags move, routing follows, owners stick."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG, Issue, Mode, System
from flags.provider import UnleashFlagProvider
from flags.provision import mode_strategy, rollout_strategy
from flags.source import FlagSource
from service.keys import Keys
from service.routing.ownership import OwnershipStore
from service.routing.router import IssueRouter, RoutingCounters
from service.settings import Settings

pytestmark = pytest.mark.integration

REPO = "acme/app"


@pytest.fixture
async def source(settings: Settings, flags_reset: UnleashAdmin) -> AsyncIterator[FlagSource]:
    provider = UnleashFlagProvider(
        url=settings.unleash_url,
        client_token=settings.unleash_client_token,
        app_name="switchyard-tests",
        environment=settings.unleash_environment,
        refresh_seconds=60,
    )
    await provider.start()
    flags = FlagSource(provider)
    yield flags
    flags.close()
    await provider.aclose()


@pytest.fixture
def router(source: FlagSource, redis_client: Redis, prefix: str) -> IssueRouter:
    return IssueRouter(
        flags=source,
        owners=OwnershipStore(redis_client, prefix=prefix),
        counters=RoutingCounters(redis_client, prefix=prefix),
    )


async def _set(
    admin: UnleashAdmin,
    *,
    mode: Mode | None = None,
    rollout: int | None = None,
    kill: bool | None = None,
) -> None:
    if mode is not None:
        strategy = (await admin.strategies(MODE_FLAG))[0]
        await admin.update_strategy(MODE_FLAG, strategy["id"], mode_strategy(mode))
    if rollout is not None:
        strategy = (await admin.strategies(ROLLOUT_FLAG))[0]
        await admin.update_strategy(ROLLOUT_FLAG, strategy["id"], rollout_strategy(rollout))
    if kill is not None:
        await admin.set_enabled(KILL_SWITCH_FLAG, kill)


async def test_routing_follows_mode_and_percentage_and_owners_stick(
    router: IssueRouter, source: FlagSource, flags_reset: UnleashAdmin
) -> None:
    first = await router.route(Issue(REPO, 1))
    assert first.decision.acting is System.TYPESCRIPT and first.decision.claim

    await _set(flags_reset, mode=Mode.GRADUAL, rollout=100)
    await source.provider.refresh()
    second = await router.route(Issue(REPO, 2))
    assert second.decision.acting is System.PYTHON
    assert second.owner is not None and second.owner.system is System.PYTHON
    again = await router.route(Issue(REPO, 1))
    assert again.decision.acting is System.TYPESCRIPT and not again.decision.claim

    await _set(flags_reset, rollout=0)
    await source.provider.refresh()
    assert (await router.route(Issue(REPO, 2))).decision.acting is System.PYTHON
    assert (await router.route(Issue(REPO, 3))).decision.acting is System.TYPESCRIPT

    await _set(flags_reset, mode=Mode.PARALLEL)
    await source.provider.refresh()
    parallel = await router.route(Issue(REPO, 2))
    assert (parallel.decision.acting, parallel.decision.shadow) == (
        System.PYTHON,
        System.TYPESCRIPT,
    )


async def test_kill_switch_hands_python_issues_back_to_typescript(
    router: IssueRouter, source: FlagSource, flags_reset: UnleashAdmin
) -> None:
    await _set(flags_reset, mode=Mode.PYTHON_ONLY)
    await source.provider.refresh()
    owned = await router.route(Issue(REPO, 10))
    assert owned.decision.acting is System.PYTHON

    await _set(flags_reset, kill=True)
    await source.provider.refresh()
    rolled = await router.route(Issue(REPO, 10))
    assert rolled.decision.mode is Mode.EMERGENCY_ROLLBACK
    assert rolled.decision.acting is System.TYPESCRIPT and rolled.decision.hand_back
    assert rolled.owner is not None and rolled.owner.system is System.TYPESCRIPT
    assert rolled.owner.token > (owned.owner.token if owned.owner else 0)

    await _set(flags_reset, kill=False)
    await source.provider.refresh()
    after = await router.route(Issue(REPO, 10))
    assert after.decision.acting is System.TYPESCRIPT  # handed back for good


async def test_explain_writes_nothing(
    router: IssueRouter, redis_client: Redis, prefix: str
) -> None:
    explained = await router.explain(Issue(REPO, 77))
    assert explained.decision.claim and explained.owner is None
    assert [key async for key in redis_client.scan_iter(match=Keys(prefix).pattern)] == []


async def test_decisions_are_counted(router: IssueRouter, redis_client: Redis, prefix: str) -> None:
    for number in range(1, 6):
        await router.route(Issue(REPO, number))
    counts = await RoutingCounters(redis_client, prefix=prefix).read()
    assert counts["total"] == 5
    assert counts["mode:typescript_only"] == 5
    assert counts.get("degraded", 0) == 0


async def test_routing_the_same_delivery_again_counts_it_once(
    router: IssueRouter, redis_client: Redis, prefix: str
) -> None:
    counters = RoutingCounters(redis_client, prefix=prefix)
    await router.route(Issue(REPO, 40), delivery_id="d-40")
    await router.route(Issue(REPO, 40), delivery_id="d-40")  # a reclaimed entry
    await router.route(Issue(REPO, 40), delivery_id="d-41")  # a new event of the same issue
    counts = await counters.read()
    assert counts["total"] == 2
    assert counts["acting:typescript"] == 2
