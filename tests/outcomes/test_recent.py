"""Recent routed issues, shadow mismatches and dead letters, read back from the real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from flags.model import Issue, Mode, System
from flags.routing import Decision
from flags.source import Freshness
from service.keys import Keys
from service.outcomes.recent import recent_dead_letters, recent_mismatches, recent_routed
from service.outcomes.recorder import OutcomeRecorder
from service.outcomes.records import ComparisonRecord
from service.pipeline.stream import EventStream, StreamEntry
from service.routing.router import RoutingCounters
from tests.auth import viewer_bearer
from tests.conftest import InProcessService

pytestmark = pytest.mark.integration
PAIR = (System.TYPESCRIPT, System.PYTHON)  # control, candidate


def _decision(acting: System) -> Decision:
    return Decision(acting, None, Mode.GRADUAL, f"{acting} acts", False, True, False)


async def test_routed_issues_newest_first_and_capped(redis_client: Redis, prefix: str) -> None:
    counters = RoutingCounters(redis_client, prefix=prefix)
    for number in range(1, 206):
        system = System.PYTHON if number % 2 else System.TYPESCRIPT
        await counters.record(_decision(system), Freshness.LIVE, issue=Issue("acme/app", number))
    await counters.record(_decision(System.PYTHON), Freshness.LIVE)  # no issue: counted only
    rows = await recent_routed(redis_client, prefix=prefix, limit=3)
    assert [(row["issue"], row["acting"]) for row in rows] == [
        ("acme/app#205", "python"),
        ("acme/app#204", "typescript"),
        ("acme/app#203", "python"),
    ]
    assert rows[0]["mode"] == "gradual" and rows[0]["reason"] == "python acts"
    assert await redis_client.llen(counters.recent_key) == 200
    assert (await counters.read())["total"] == 206


async def test_mismatches_are_the_disagreeing_comparisons(redis_client: Redis, prefix: str) -> None:
    for number, match in ((1, True), (2, False), (3, True), (4, False)):
        record = ComparisonRecord(
            f"d{number}", Issue("acme/app", number), *PAIR, match, True, match, 1.0, 2.0, 5.0
        )
        async with redis_client.pipeline(transaction=False) as pipe:
            recorder = OutcomeRecorder(redis_client, prefix=prefix)
            mark = Keys(prefix).pair(record.delivery_id, record.issue)
            await recorder.queue_outcome(pipe, record, mark=mark)
            await pipe.execute()
    rows = await recent_mismatches(redis_client, prefix=prefix)
    assert [row["issue"] for row in rows] == ["acme/app#4", "acme/app#2"]


async def test_dead_letters_newest_first_without_the_body(redis_client: Redis, prefix: str) -> None:
    stream = EventStream(redis_client, prefix=prefix)
    for number in (1, 2):
        entry = StreamEntry(f"0-{number}", f"delivery-{number}", "issues", 0.0, b'{"secret": 1}')
        await stream.bury(entry, system="python", error=f"failed {number}", attempts=5)
    rows = await recent_dead_letters(redis_client, prefix=prefix)
    assert [row["delivery_id"] for row in rows] == ["delivery-2", "delivery-1"]
    assert rows[0]["attempts"] == 5 and "body" not in rows[0]


async def test_status_lists_recent_activity(edge: InProcessService) -> None:
    runtime = edge.runtime
    counters = RoutingCounters(runtime.redis, prefix=runtime.prefix)
    await counters.record(_decision(System.TYPESCRIPT), Freshness.LIVE, issue=Issue("acme/app", 42))
    status = (
        await edge.client.get("/migration/status", headers=viewer_bearer(edge.settings))
    ).json()
    assert [row["issue"] for row in status["recent"]["routed"]] == ["acme/app#42"]
    assert status["recent"]["mismatches"] == [] and status["recent"]["dead_letters"] == []
