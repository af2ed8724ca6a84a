"""The read model agrees exactly with a full scan of the streams: random event sequences
(completions, shadow pairs, PR and CI results; repeats, clocks going back and forth) recorded
through the real recorder into the real Redis."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from flags.model import Issue, System
from service.agents.completion import Completion
from service.dashboard.trends import bucket_completions, read_trends
from service.devtools.redis_prefix import delete_prefix
from service.github.events import CheckCompleted, PullRequestClosed
from service.keys import Keys
from service.outcomes.buckets import (
    BIN_MAX,
    BIN_MIN,
    bin_of,
    bin_upper,
    quantile,
    rebuild_set_key,
    window_keys,
    window_start,
)
from service.outcomes.read_model import ReadModel, rebuild_counts
from service.outcomes.recorder import OutcomeRecorder
from service.outcomes.records import (
    ComparisonRecord,
    CompletionRecord,
    QualityRecord,
    read_records,
)
from service.pipeline.jobs import Job, JobState, job_id_for
from service.settings import Settings

DAY = 86400


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Event:
    kind: str  # "act", "shadow", "pr", "ci"
    delivery: int
    system: System
    success: bool
    seconds: float
    offset: float  # seconds after the history's start


events = st.builds(
    Event,
    kind=st.sampled_from(["act", "act", "shadow", "pr", "ci"]),
    delivery=st.integers(0, 12),  # few deliveries: repeats and pairs are common
    system=st.sampled_from(list(System)),
    success=st.booleans(),
    seconds=st.one_of(st.floats(0, 5000), st.sampled_from([0.0, 1.0, 2.0**0.125, 600.0])),
    offset=st.floats(0, 1.4 * DAY),
)


def _job(event: Event, *, dry_run: bool) -> Job:
    system = event.system if not dry_run else _other(event.system)
    delivery = f"d{event.delivery}"
    return Job(
        job_id=job_id_for(delivery, system, dry_run=dry_run),
        delivery_id=delivery,
        issue=Issue("acme/app", event.delivery),
        system=system,
        dry_run=dry_run,
        state=JobState.DISPATCHED,
    )


def _other(system: System) -> System:
    return System.PYTHON if system is System.TYPESCRIPT else System.TYPESCRIPT


async def _record(recorder: OutcomeRecorder, event: Event) -> None:
    if event.kind in ("act", "shadow"):
        job = _job(event, dry_run=event.kind == "shadow")
        await recorder.completion_once(
            job,
            Completion(
                job.job_id,
                job.issue.number,
                event.success,
                event.seconds,
                job.dry_run,
                pr_number=None if job.dry_run else 1000 + event.delivery,
                output_digest="same" if event.success else "other",
            ),
        )
    elif event.kind == "pr":
        await recorder.pull_request_closed(
            PullRequestClosed(
                f"pr-{event.delivery}-{event.success}",
                "acme/app",
                1000 + event.delivery,
                event.success,
                "feature",
                "",
                (),
            )
        )
    else:
        await recorder.check_completed(
            CheckCompleted(
                f"ci-{event.delivery}-{event.success}",
                "check_suite",
                "acme/app",
                "success" if event.success else "failure",
                event.success,
                None,
                (1000 + event.delivery,),
                (),
            )
        )


async def _check(settings: Settings, history: list[Event], epoch: float) -> None:
    redis = Redis.from_url(settings.redis_url, decode_responses=True)
    prefix = Keys(settings.redis_prefix).scoped(f"rm-{time.monotonic_ns()}").prefix
    start = math.floor(time.time()) - int(1.5 * DAY)
    clock = Clock(start)
    try:
        recorder = OutcomeRecorder(redis, prefix=prefix, clock=clock)
        for event in history:
            clock.now = start + event.offset
            await _record(recorder, event)
        now = start + 1.5 * DAY
        keys = Keys(prefix)
        completions = await read_records(redis, keys.completions, CompletionRecord)
        quality = await read_records(redis, keys.quality, QualityRecord)
        comparisons = await read_records(redis, keys.comparisons, ComparisonRecord)
        model = ReadModel(redis, prefix=prefix, clock=Clock(now))
        for since in (now - 3600, now - DAY, start + epoch * 1.5 * DAY, start - 1):
            scanned = rebuild_counts(
                window_start(since, now),
                math.inf,
                completions=completions,
                quality=quality,
                comparisons=comparisons,
            )
            assert await model.window(since) == scanned, since
        for window in ("1h", "1d"):
            trends = await read_trends(redis, prefix=prefix, window=window, now=now)
            scanned_trends = bucket_completions(completions, window=window, now=now)
            assert trends == scanned_trends, window
    finally:
        await delete_prefix(redis, prefix)
        await redis.aclose()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.integration
@given(history=st.lists(events, max_size=40), epoch=st.floats(0, 1))
def test_windows_and_trends_equal_a_full_scan(
    settings: Settings, history: list[Event], epoch: float
) -> None:
    asyncio.run(_check(settings, history, epoch))


@pytest.mark.integration
async def test_a_corrupt_bucket_is_rebuilt_from_the_streams(
    redis_client: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(math.floor(time.time()))  # the stream ids' clock: a rebuild reads by id
    recorder = OutcomeRecorder(redis_client, prefix=prefix, clock=clock)
    for number in range(3):
        event = Event("act", number, System.PYTHON, number > 0, 2.0, 0)
        await _record(recorder, event)
    minute = window_keys(prefix, clock.now, clock.now)[0]
    await redis_client.hset(minute, "python:acting:n", "not a number")
    model = ReadModel(redis_client, prefix=prefix)
    # the level set on the read model's own logger: what an earlier test did to the root's
    # level or handlers cannot hide the warning
    with caplog.at_level(logging.WARNING, logger="switchyard.read_model"):
        counts = await model.window(clock.now - 60)
    assert counts["python:acting:n"] == 3 and counts["python:acting:ok"] == 2
    assert "rebuilt from the streams" in caplog.text
    # The recording script meets a corrupt field: drops the bucket, lists it, counts on.
    await redis_client.hset(minute, "python:acting:ok", "garbage")
    await _record(recorder, Event("act", 7, System.PYTHON, True, 2.0, 0))
    assert await redis_client.sismember(rebuild_set_key(prefix), minute)
    counts = await model.window(clock.now - 60)
    assert counts["python:acting:n"] == 4 and counts["python:acting:ok"] == 3
    assert not await redis_client.sismember(rebuild_set_key(prefix), minute)


def test_window_starts_round_to_what_is_kept() -> None:
    now = 100 * DAY + 5 * 3600 + 17 * 60 + 9
    assert window_start(now - 3600, now) == now - 3600 - 9  # the minute
    assert window_start(now - 7 * DAY, now) == now - 7 * DAY - 17 * 60 - 9  # the hour
    assert window_start(now - 100 * DAY, now) == 0  # the day
    keys = window_keys("p", now - 30 * DAY, now)
    assert len(keys) < 60
    assert {key.split(":")[2] for key in keys} == {"h", "d"}
    assert len(window_keys("p", now - 3600, now)) <= 60


def test_duration_bins_and_quantiles() -> None:
    for seconds in (0.001, 0.5, 1.0, 2.0**0.125, 3.3, 600.0, 1e9):
        k = bin_of(seconds)
        assert BIN_MIN <= k <= BIN_MAX
        assert seconds <= bin_upper(k) or k == BIN_MAX
        assert seconds > bin_upper(k - 1) or k == BIN_MIN
    histogram = {bin_of(float(s)): 0 for s in range(1, 101)}
    for s in range(1, 101):
        histogram[bin_of(float(s))] += 1
    assert quantile(histogram, 0.5) == pytest.approx(50, rel=0.1)
    assert quantile(histogram, 0.95) == pytest.approx(95, rel=0.1)
    assert quantile({}, 0.5) is None
