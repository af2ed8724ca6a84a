"""Buckets that go missing are found by the watchdog's audit and rebuilt from the streams: on a
redis-server of the test's own with an AOF, restarted after the loss, like the stack's."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Issue, System
from service.agents.completion import Completion
from service.keys import Keys
from service.migration.control import MigrationControl
from service.outcomes.buckets import HOUR, MINUTE, window_start
from service.outcomes.read_model import ReadModel, rebuild_counts
from service.outcomes.recorder import OutcomeRecorder
from service.outcomes.records import CompletionRecord, read_records
from service.pipeline.jobs import Job, JobState, job_id_for
from service.watchdog.loop import Watchdog, WatchdogConfig
from tests.processes import redis_server

pytestmark = pytest.mark.integration


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _watchdog(redis: Redis, http: httpx.AsyncClient, admin: UnleashAdmin, prefix: str) -> Watchdog:
    return Watchdog(
        redis=redis,
        http=http,
        control=MigrationControl(admin=admin, redis=redis, prefix=prefix),
        prefix=prefix,
        config=WatchdogConfig(name="wd-audit", interval_seconds=1, dry_run=True),
    )


async def _complete(recorder: OutcomeRecorder, number: int, system: System) -> None:
    issue = Issue("acme/audit", number)
    job_id = job_id_for(f"d{number}", system, dry_run=False)
    job = Job(job_id, f"d{number}", issue, system, False, JobState.DISPATCHED)
    await recorder.completion_once(job, Completion(job_id, number, number % 3 != 0, 30.0, False))


async def test_buckets_lost_across_a_restart_are_rebuilt_from_the_streams_once(
    redis_client: Redis,
    admin: UnleashAdmin,
    http: httpx.AsyncClient,
    prefix: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack = await redis_client.config_get("append*")
    aof = {key: str(stack[key]) for key in ("appendonly", "appendfsync")}
    assert aof["appendonly"] == "yes"
    async with redis_server(tmp_path, {**aof, "save": ""}) as server:
        redis = Redis.from_url(server.url, decode_responses=True)
        try:
            recorder = OutcomeRecorder(redis, prefix=prefix)  # the real clock: ids and buckets
            for number in range(1, 7):
                await _complete(
                    recorder, number, System.PYTHON if number % 2 else System.TYPESCRIPT
                )
            rows = await read_records(redis, Keys(prefix).completions, CompletionRecord)
            at, now = rows[0].at, time.time()
            minute, hour = MINUTE.key(prefix, MINUTE.start(at)), HOUR.key(prefix, HOUR.start(at))
            since = now - 3600
            model = ReadModel(redis, prefix=prefix)
            before = await model.window(since)
            assert before["python:acting:n"] == 3
            await redis.delete(minute, hour)  # lost, say; the day bucket still counts them
            await server.stop()  # a graceful restart: the AOF brings back all but those keys
            await server.start()
            await redis.connection_pool.disconnect()  # the next command connects again
            assert not await redis.exists(minute, hour)
            assert await model.window(since) != before

            watchdog = _watchdog(redis, http, admin, prefix)
            await watchdog.tick()  # the hour, found short against its day
            await watchdog.tick()  # then the minute, found short against the rebuilt hour
            scanned = rebuild_counts(
                window_start(since, now), math.inf, completions=rows, quality=[], comparisons=[]
            )
            assert await model.window(since) == scanned == before
            state = await redis.hgetall(Keys(prefix).watchdog_state)
            assert int(state["buckets_rebuilt"]) >= 2
            lines = [r.getMessage() for r in caplog.records if "was missing" in r.getMessage()]
            assert any(hour in line for line in lines) and any(minute in line for line in lines)
            assert len(lines) == len(set(lines))  # logged once each
            await watchdog.tick()
            again = [r for r in caplog.records if "was missing" in r.getMessage()]
            assert len(again) == len(lines)
        finally:
            await redis.aclose()


async def test_an_audit_that_fails_does_not_stop_the_tick(
    redis_client: Redis,
    admin: UnleashAdmin,
    http: httpx.AsyncClient,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = time.time()
    await redis_client.set(HOUR.key(prefix, HOUR.start(now)), "not a hash")
    watchdog = _watchdog(redis_client, http, admin, prefix)
    verdict = await watchdog.tick()
    assert verdict is not None and not verdict.rollback
    assert "read-model audit failed, the tick goes on" in caplog.text
    state = await redis_client.hgetall(Keys(prefix).watchdog_state)
    assert state["verdict"] == "ok"
