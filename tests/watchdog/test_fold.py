"""The incremental fold equals a full scan (gather_evidence), whatever the batches, repeats and
orders; a leader killed between reading and writing folds nothing twice; new epochs, corrupt or
lost folds and trimmed streams."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from flags.model import System
from service.devtools.redis_prefix import delete_prefix
from service.keys import Keys
from service.outcomes.recorder import OutcomeRecorder
from service.settings import Settings
from service.watchdog.evidence import gather_evidence
from service.watchdog.fold_store import EvidenceFold
from service.watchdog.verdict import Policy
from tests.outcomes.test_read_model import Event, _record, events

pytestmark = pytest.mark.integration

POLICY = Policy(min_samples=3)


async def _scan(redis: Redis, prefix: str, since: float = 0.0) -> object:
    return await gather_evidence(
        redis, prefix=prefix, since=since, policy=POLICY, python_health_failures=0
    )


async def _check(settings: Settings, history: list[Event], ticks: list[int], batch: int) -> None:
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    prefix = Keys(settings.redis_prefix).scoped(f"fold-{time.monotonic_ns()}").prefix
    try:
        recorder = OutcomeRecorder(redis, prefix=prefix)
        fold = EvidenceFold(redis, prefix=prefix, policy=POLICY, batch=batch)
        for index, event in enumerate(history):
            await _record(recorder, event)
            if index in ticks:
                await fold.advance()
        current = await fold.advance()
        assert current.evidence(python_health_failures=0) == await _scan(redis, prefix)
    finally:
        await delete_prefix(redis, prefix)
        await redis.aclose()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    history=st.lists(events, max_size=60),
    ticks=st.lists(st.integers(0, 60), max_size=8),
    batch=st.integers(1, 7),
)
def test_fold_equals_a_full_scan(
    settings: Settings, history: list[Event], ticks: list[int], batch: int
) -> None:
    asyncio.run(_check(settings, history, ticks, batch))


async def _history(redis: Redis, prefix: str, n: int, start: int = 0) -> None:
    recorder = OutcomeRecorder(redis, prefix=prefix)
    for i in range(start, start + n):
        system = System.PYTHON if i % 2 else System.TYPESCRIPT
        await _record(recorder, Event("act", i, system, i % 3 != 0, float(i % 700), 0))


async def test_a_leader_killed_between_reading_and_writing_folds_nothing_twice(
    redis_client: Redis, prefix: str
) -> None:
    await _history(redis_client, prefix, 40)
    first = EvidenceFold(redis_client, prefix=prefix, policy=POLICY)
    second = EvidenceFold(redis_client, prefix=prefix, policy=POLICY)
    read_not_written = await first.prepare()  # the first leader dies here
    assert read_not_written.fold.rows == 40
    await _history(redis_client, prefix, 5, start=40)
    taken_over = await second.advance()  # the next leader folds everything once
    assert taken_over.rows == 45
    assert not await first.commit(read_not_written)  # a late write from the old leader: refused
    again = await second.advance()
    assert again.rows == 45
    assert again.evidence(python_health_failures=0) == await _scan(redis_client, prefix)


async def test_a_new_epoch_starts_a_new_fold(redis_client: Redis, prefix: str) -> None:
    await _history(redis_client, prefix, 20)
    fold = EvidenceFold(redis_client, prefix=prefix, policy=POLICY)
    assert (await fold.advance()).rows == 20
    await asyncio.sleep(0.01)
    epoch = time.time()
    await redis_client.set(Keys(prefix).watchdog_since, f"{epoch:.3f}")
    await asyncio.sleep(0.01)
    await _history(redis_client, prefix, 6, start=20)
    current = await fold.advance()
    assert current.rows == 6 and current.epoch == float(f"{epoch:.3f}")
    scanned = await _scan(redis_client, prefix, since=float(f"{epoch:.3f}"))
    assert current.evidence(python_health_failures=0) == scanned


async def test_a_trimmed_stream_does_not_shorten_the_folded_evidence(
    redis_client: Redis, prefix: str
) -> None:
    await _history(redis_client, prefix, 30)
    fold = EvidenceFold(redis_client, prefix=prefix, policy=POLICY)
    before = await fold.advance()
    await redis_client.xtrim(Keys(prefix).completions, maxlen=0)
    await _history(redis_client, prefix, 4, start=30)
    after = await fold.advance()
    assert after.rows == 34
    assert after.python.success.trials + after.typescript.success.trials == 34
    assert after.drift.observations >= before.drift.observations


async def test_corrupt_or_lost_fold_is_rebuilt_and_logged_once(
    redis_client: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="switchyard.watchdog.fold")
    await _history(redis_client, prefix, 12)
    fold = EvidenceFold(redis_client, prefix=prefix, policy=POLICY)
    assert (await fold.advance()).rebuilt_at is None
    await redis_client.hset(fold.key, "state", "{not json")
    rebuilt = await fold.advance()
    assert rebuilt.rebuilt_at is not None and rebuilt.rows == 12
    assert rebuilt.evidence(python_health_failures=0) == await _scan(redis_client, prefix)
    await redis_client.delete(fold.key)  # lost, say by a restart without its last writes
    lost = await fold.advance()
    assert lost.rebuilt_at is not None and lost.rows == 12
    assert caplog.text.count("rebuilding it from the streams") == 1
