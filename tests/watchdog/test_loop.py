"""The watchdog against the real Unleash and Redis: flips once, on evidence, never in dry run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import System
from flags.provider import UnleashFlagProvider
from flags.source import FlagSource
from service.health.monitor import HealthMonitor
from service.migration.control import MigrationControl
from service.notify.outbox import Notification, Outbox
from service.settings import Settings
from service.watchdog.loop import Watchdog, WatchdogConfig
from tests.conftest import record_completion

pytestmark = pytest.mark.integration


async def _history(redis: Redis, prefix: str, *, python_success: float, n: int = 80) -> None:
    for index in range(n):
        await record_completion(redis, prefix, System.TYPESCRIPT, 10_000 + index, index % 20 != 0)
        await record_completion(
            redis, prefix, System.PYTHON, index + 1, (index % 100) < python_success * 100
        )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _watchdog(
    redis: Redis,
    http: httpx.AsyncClient,
    admin: UnleashAdmin,
    prefix: str,
    name: str,
    *,
    dry_run: bool = False,
) -> Watchdog:
    return Watchdog(
        redis=redis,
        http=http,
        control=MigrationControl(admin=admin, redis=redis, prefix=prefix),
        prefix=prefix,
        config=WatchdogConfig(name=name, interval_seconds=1, dry_run=dry_run),
    )


async def test_degraded_python_is_rolled_back_and_routing_follows(
    flags_reset: UnleashAdmin,
    redis_client: Redis,
    prefix: str,
    http: httpx.AsyncClient,
    settings: Settings,
) -> None:
    await _history(redis_client, prefix, python_success=0.30)
    watchdog = _watchdog(redis_client, http, flags_reset, prefix, "wd-1")
    verdict = await watchdog.tick()
    assert verdict is not None and verdict.rollback
    control = MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix)
    assert (await control.state()).kill_switch is True
    entry = (await control.audit.recent(1))[0]
    assert (entry.source, entry.change, entry.actor) == ("watchdog", "rollback", "wd-1")
    assert entry.evidence is not None and entry.evidence.get("rule")
    provider = UnleashFlagProvider(
        url=settings.unleash_url,
        client_token=settings.unleash_client_token,
        app_name="t",
        environment=settings.unleash_environment,
    )
    await provider.start()
    source = FlagSource(provider)
    try:
        assert source.snapshot(repository="acme/app", issue_number=1).kill_switch is True
    finally:
        source.close()
        await provider.aclose()
    state = await redis_client.hgetall(watchdog.state_key)
    assert state["verdict"] == "rollback" and state["action"] == "rolled back"


async def test_two_watchdogs_at_once_flip_it_once(
    flags_reset: UnleashAdmin, redis_client: Redis, prefix: str, http: httpx.AsyncClient
) -> None:
    await _history(redis_client, prefix, python_success=0.30)
    first = _watchdog(redis_client, http, flags_reset, prefix, "wd-a")
    second = _watchdog(redis_client, http, flags_reset, prefix, "wd-b")
    verdicts = await asyncio.gather(first.tick(), second.tick())
    assert sorted(verdict is None for verdict in verdicts) == [False, True]  # one leader
    again = await asyncio.gather(first.tick(), second.tick())
    assert sum(verdict is not None for verdict in again) == 1
    control = MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix)
    rollbacks = [e for e in await control.audit.recent(10) if e.change == "rollback"]
    assert len(rollbacks) == 1


async def test_a_rollback_is_notified_through_the_outbox_once(
    flags_reset: UnleashAdmin, redis_client: Redis, prefix: str, http: httpx.AsyncClient
) -> None:
    got: list[Notification] = []

    class Recorder:
        name = "recorder"

        async def send(self, event: Notification) -> str | None:
            got.append(event)
            return None

    outbox = Outbox(redis_client, prefix=prefix, senders=[Recorder()])
    await _history(redis_client, prefix, python_success=0.30)
    watchdog = Watchdog(
        redis=redis_client,
        http=http,
        control=MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix),
        prefix=prefix,
        config=WatchdogConfig(name="wd-notify", interval_seconds=1),
        outbox=outbox,
    )
    await watchdog.tick()
    await watchdog.tick()  # the switch is on already: nothing new to say
    assert await outbox.deliver_due() == 1
    (event,) = got
    assert (event.kind, event.actor) == ("watchdog_rollback", "wd-notify")
    assert event.details["evidence"]["rule"]


async def test_dry_run_flips_nothing(
    flags_reset: UnleashAdmin, redis_client: Redis, prefix: str, http: httpx.AsyncClient
) -> None:
    await _history(redis_client, prefix, python_success=0.30)
    watchdog = _watchdog(redis_client, http, flags_reset, prefix, "wd-dry", dry_run=True)
    verdict = await watchdog.tick()
    assert verdict is not None and verdict.rollback
    control = MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix)
    assert (await control.state()).kill_switch is False
    assert await control.audit.recent(5) == []
    state = await redis_client.hgetall(watchdog.state_key)
    assert state["action"] == "would roll back (dry run)"


async def test_healthy_python_is_left_alone(
    flags_reset: UnleashAdmin, redis_client: Redis, prefix: str, http: httpx.AsyncClient
) -> None:
    await _history(redis_client, prefix, python_success=0.95)
    verdict = await _watchdog(redis_client, http, flags_reset, prefix, "wd-ok").tick()
    assert verdict is not None and not verdict.rollback
    control = MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix)
    assert (await control.state()).kill_switch is False


async def test_three_failed_health_checks_roll_back(
    flags_reset: UnleashAdmin, redis_client: Redis, prefix: str, http: httpx.AsyncClient
) -> None:
    watchdog = _watchdog(redis_client, http, flags_reset, prefix, "wd-health")
    monitor = HealthMonitor(
        redis=redis_client, http=http, prefix=prefix, urls={"python": "http://127.0.0.1:9"}
    )
    outcomes = []
    for _ in range(3):  # one monitor round per interval, then the watchdog's tick reads it
        await monitor.tick(interval_seconds=1)
        outcomes.append(await watchdog.tick())
    assert [v is not None and v.rollback for v in outcomes] == [False, False, True]
    control = MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix)
    assert (await control.state()).kill_switch is True
