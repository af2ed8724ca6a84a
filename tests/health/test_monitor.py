"""The health monitor is the one prober: one result per interval however many monitors run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from service.health.monitor import HealthMonitor, read_health
from service.keys import Keys
from service.migration.control import MigrationControl
from service.watchdog.loop import Watchdog, WatchdogConfig

pytestmark = pytest.mark.integration

DOWN = "http://127.0.0.1:9"  # nothing listens: every probe of python fails


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _monitor(redis: Redis, http: httpx.AsyncClient, prefix: str) -> HealthMonitor:
    return HealthMonitor(redis=redis, http=http, prefix=prefix, urls={"python": DOWN})


async def test_three_failed_probes_at_the_interval_count_once_each(
    flags_reset: UnleashAdmin, redis_client: Redis, prefix: str, http: httpx.AsyncClient
) -> None:
    service_monitor = _monitor(redis_client, http, prefix)  # the service's lifespan runs one
    watchdog_monitor = _monitor(redis_client, http, prefix)  # and so does the watchdog process
    watchdog = Watchdog(
        redis=redis_client,
        http=http,
        control=MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix),
        prefix=prefix,
        config=WatchdogConfig(name="wd-one-prober", interval_seconds=1, dry_run=True),
    )
    rounds = []
    for _ in range(3):  # three intervals: every monitor and the watchdog take their turn
        rounds.append(await service_monitor.tick(interval_seconds=1))
        rounds.append(await watchdog_monitor.tick(interval_seconds=1))
        await watchdog.tick()
    assert sum(result is not None for result in rounds) == 3  # one prober per interval
    python = (await read_health(redis_client, prefix=prefix))["python"]
    assert (python["consecutive_failures"], python["history"]) == (3, 3)
    assert python["healthy"] is False


async def test_the_watchdog_never_probes(
    flags_reset: UnleashAdmin, redis_client: Redis, prefix: str, http: httpx.AsyncClient
) -> None:
    watchdog = Watchdog(
        redis=redis_client,
        http=http,
        control=MigrationControl(admin=flags_reset, redis=redis_client, prefix=prefix),
        prefix=prefix,
        config=WatchdogConfig(name="wd-reader", interval_seconds=1, dry_run=True),
    )
    for _ in range(3):
        assert await watchdog.tick() is not None
    assert await read_health(redis_client, prefix=prefix) == {}
    assert await redis_client.get(Keys(prefix).health_failures("python")) is None


async def test_another_monitor_probes_once_the_holder_is_gone(
    redis_client: Redis, prefix: str, http: httpx.AsyncClient
) -> None:
    holder, other = _monitor(redis_client, http, prefix), _monitor(redis_client, http, prefix)
    assert await holder.tick(interval_seconds=1) is not None
    assert await other.tick(interval_seconds=1) is None
    await redis_client.delete(Keys(prefix).health_lease)  # the holder died: its lease lapsed
    assert await other.tick(interval_seconds=1) is not None
    assert await holder.tick(interval_seconds=1) is None
