"""Filling weeks of history fast, through the recorder's own scripts (for ``bench/history.py``).

Each completion, quality row and comparison is the recorder's own script call:
:meth:`OutcomeRecorder.queue_completion` and :meth:`~OutcomeRecorder.queue_outcome` build the
keys and arguments (an injected clock stamps the rows and picks their buckets, spreading them over
35 days) and call the same Lua by ``EVALSHA``, as the service does. What is cut is the client's
cost around them: the calls are captured by :class:`_Wire` and packed into the Redis protocol in
one buffer per batch, sent on a plain connection with thousands of commands per round trip, and
several worker processes fill disjoint slices of the history at once.

The events: a quarter of the completions are shadow runs, each with its comparison (90 % match);
40 % of acting runs have a PR closed, 40 % a check suite (75 % good). Python succeeds 85 % of the
time, typescript 80 %; durations are log-normal around 90 s.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import multiprocessing
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis
from redis.asyncio import Redis

from flags.model import Issue, System
from service.agents.completion import Completion
from service.keys import Keys
from service.outcomes.recorder import OutcomeRecorder
from service.outcomes.records import ComparisonRecord, QualityRecord
from service.pipeline.jobs import Job, JobState, job_id_for

__all__ = ["SPAN", "Events", "Filler", "fill", "load_state", "save_state"]

SPAN = 35 * 86400.0
_BATCH = 2000  # completions per round trip (about 3,300 commands)
_PAIR_TTL = 7 * 86400


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _bulk(value: Any) -> bytes:
    data = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


class _Wire:
    """Stands in for a pipeline: the commands the recorder queues, packed as the Redis protocol
    (``str()`` of a number is what redis-py sends too)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.count = 0

    def _command(self, *parts: Any) -> None:
        texts = [part if type(part) is str else str(part) for part in parts]
        packed = "".join([f"*{len(texts)}\r\n", *[f"${len(t)}\r\n{t}\r\n" for t in texts]])
        if packed.isascii():  # lengths counted in characters are byte lengths
            self._parts.append(packed.encode())
        else:
            self._parts.append(b"*%d\r\n" % len(parts) + b"".join(map(_bulk, parts)))
        self.count += 1

    async def evalsha(self, sha: str, numkeys: int, *args: Any) -> None:
        self._command("EVALSHA", sha, numkeys, *args)

    def expire(self, key: str, seconds: int) -> None:
        self._command("EXPIRE", key, seconds)

    def lpush(self, key: str, value: str) -> None:
        self._command("LPUSH", key, value)

    def ltrim(self, key: str, start: int, end: int) -> None:
        self._command("LTRIM", key, start, end)

    def take(self) -> tuple[bytes, int]:
        packed, count = b"".join(self._parts), self.count
        self._parts, self.count = [], 0
        return packed, count


class Events:
    """The history's events, queued on ``pipe`` (a pipeline or a :class:`_Wire`)."""

    def __init__(self, redis_client: Any, prefix: str, *, seed: int) -> None:
        self.clock = _Clock(0.0)
        self.keys = Keys(prefix)
        self.recorder = OutcomeRecorder(redis_client, prefix=prefix, clock=self.clock)
        self.rng = random.Random(seed)
        self.events = 0

    async def one(self, pipe: Any, n: int, at: float) -> None:
        """Completion number ``n`` at ``at``, with its comparison or quality rows."""
        rng = self.rng
        self.clock.now = at
        system = System.PYTHON if rng.random() < 0.5 else System.TYPESCRIPT
        shadow = rng.random() < 0.25
        issue = Issue("acme/history", n)
        job_id = job_id_for(f"h{n}", system, dry_run=shadow)
        job = Job(job_id, f"h{n}", issue, system, shadow, JobState.DISPATCHED)
        success = rng.random() < (0.85 if system is System.PYTHON else 0.8)
        seconds = rng.lognormvariate(4.5, 0.8)
        await self.recorder.queue_completion(
            pipe, job, Completion(job_id, n, success, seconds, shadow)
        )
        self.events += 1
        if shadow:
            other = System.TYPESCRIPT if system is System.PYTHON else System.PYTHON
            record = ComparisonRecord(
                delivery_id=f"h{n}",
                issue=issue,
                control_system=other,
                candidate_system=system,
                match=rng.random() < 0.9,
                control_success=True,
                candidate_success=success,
                control_duration_seconds=60.0,
                candidate_duration_seconds=round(seconds, 6),
                at=round(at, 6),
            )
            mark = self.keys.pair(f"h{n}", issue)
            await self.recorder.queue_outcome(pipe, record, mark=mark)
            pipe.expire(mark, _PAIR_TTL)
            self.events += 1
            return
        for kind, share in (("pr_closed", 0.4), ("ci:check_suite", 0.4)):
            if rng.random() < share:
                delivery = f"q{kind}{n}"
                row = QualityRecord(
                    kind=kind,
                    system=system,
                    issue=issue,
                    success=rng.random() < 0.75,
                    delivery_id=delivery,
                    at=round(at, 6),
                )
                await self.recorder.queue_outcome(pipe, row, mark=self.keys.quality_seen(delivery))
                self.events += 1


def _send(connection: Any, packed: bytes, count: int) -> None:
    connection.send_packed_command([packed], check_health=False)
    errors = []
    for _ in range(count):
        reply = connection.read_response(disable_decoding=True)
        if isinstance(reply, Exception):
            errors.append(reply)
    if errors:
        raise RuntimeError(f"fill: {len(errors)} of {count} commands failed: {errors[0]}")


def _fill_slice(redis_url: str, prefix: str, end: float, first: int, count: int, seed: int) -> int:
    """A worker: completions ``first .. first + count - 1``; how many events it recorded."""
    client = redis.Redis.from_url(redis_url)
    connection = client.connection_pool.get_connection()
    # The recorder's client only names the scripts (their SHA); every command goes on the wire.
    events = Events(Redis.from_url(redis_url, decode_responses=True), prefix, seed=seed)
    rng = random.Random(seed + 1)

    async def batches() -> None:
        wire = _Wire()
        for start in range(first, first + count, _BATCH):
            for n in range(start, min(start + _BATCH, first + count)):
                await events.one(wire, n, end - rng.random() * SPAN)
            _send(connection, *wire.take())

    try:
        asyncio.run(batches())
    finally:
        client.connection_pool.release(connection)
        client.close()
    return events.events


async def fill(
    redis_url: str, prefix: str, *, end: float, first: int, count: int, workers: int, seed: int
) -> int:
    """Completions ``first .. first + count - 1`` (at random moments of the 35 days before
    ``end``) in ``workers`` processes; how many events were recorded. The recorder's scripts
    must be loaded already (a pipeline's first ``queue_completion`` loads them)."""
    if count <= 0:
        return 0
    share = -(-count // workers)
    slices: Sequence[tuple[int, int]] = [
        (start, min(share, first + count - start)) for start in range(first, first + count, share)
    ]
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(len(slices), mp_context=context) as pool:
        done = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool, _fill_slice, redis_url, prefix, end, start, size, seed * 1000 + i
                )
                for i, (start, size) in enumerate(slices)
            )
        )
    return sum(done)


class Filler:
    """Fills the history (:mod:`bench.history_fill`, in worker processes) and records the
    ticks' recent completions on a pipeline, through the same recorder scripts."""

    def __init__(self, redis: Redis, redis_url: str, prefix: str, end: float) -> None:
        self.redis = redis
        self.redis_url = redis_url
        self.prefix = prefix
        self.end = end
        self.live = Events(redis, prefix, seed=20261201)
        self.completions = 0
        self.filled_events = 0

    @property
    def events(self) -> int:
        return self.filled_events + self.live.events

    async def fill(self, count: int, *, workers: int) -> None:
        if self.completions == 0:  # the first batch on a pipeline, which loads the scripts
            await self._pipeline(min(count, 100), lambda: self.end - random.random() * SPAN)
            count -= min(count, 100)
        self.filled_events += await fill(
            self.redis_url,
            self.prefix,
            end=self.end,
            first=self.completions,
            count=count,
            workers=workers,
            seed=self.completions + 1,
        )
        self.completions += count

    async def recent(self, count: int) -> None:
        """``count`` completions now, for the ticks that follow the catch-up."""
        await self._pipeline(count, time.time)

    async def _pipeline(self, count: int, at: Callable[[], float]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for _ in range(count):
                await self.live.one(pipe, self.completions, at())
                self.completions += 1
            await pipe.execute()


def load_state(saved: Path | None) -> dict[str, Any]:
    """What :func:`save_state` wrote (nothing yet: empty)."""
    return json.loads(saved.read_text()) if saved is not None and saved.exists() else {}


def save_state(saved: Path, baseline: int, filler: Filler) -> None:
    """Describe a kept history: Redis memory before it, its clock, completions and events."""
    state = {
        "baseline": baseline,
        "end": filler.end,
        "completions": filler.completions,
        "events": filler.events,
    }
    saved.write_text(json.dumps(state))
