"""Trimming the event stream on the real Redis: acknowledged entries past the retention go;
pending ones and ones no worker has read yet stay, whatever their age."""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from service.pipeline.stream import EventStream
from service.pipeline.trim import trim_events

pytestmark = pytest.mark.integration

BODY = b'{"action":"opened","payload":"' + b"x" * 20_000 + b'"}'


async def _append(stream: EventStream, n: int, tag: str) -> list[str]:
    ids = []
    for i in range(n):
        _, entry_id = await stream.append(delivery_id=f"{tag}-{i}", event="issues", body=BODY)
        ids.append(entry_id)
    return ids


async def test_only_acknowledged_entries_past_the_retention_are_trimmed(
    redis_client: Redis, prefix: str
) -> None:
    stream = EventStream(redis_client, prefix=prefix)
    await stream.ensure_group()
    acked = await _append(stream, 5, "acked")
    for entry in await stream.read("w1", count=5, block_ms=100):
        await stream.ack(entry.entry_id)
    pending = await _append(stream, 2, "pending")
    assert len(await stream.read("w1", count=2, block_ms=100)) == 2  # taken, never acked
    unread = await _append(stream, 3, "unread")
    later = time.time() + 3600

    kept = await trim_events(redis_client, prefix=prefix, retention_seconds=7200, now=later)
    removed = await trim_events(redis_client, prefix=prefix, retention_seconds=60, now=later)
    again = await trim_events(redis_client, prefix=prefix, retention_seconds=60, now=later)

    assert (kept, removed, again) == (0, len(acked), 0)
    left = [entry_id for entry_id, _ in await redis_client.xrange(stream.key) or []]
    assert left == pending + unread
    assert (await stream.depth())["pending"] == 2


async def test_an_unread_stream_is_never_trimmed(redis_client: Redis, prefix: str) -> None:
    stream = EventStream(redis_client, prefix=prefix)
    await stream.ensure_group()
    unread = await _append(stream, 3, "unread")
    removed = await trim_events(
        redis_client, prefix=prefix, retention_seconds=1, now=time.time() + 3600
    )
    assert removed == 0 and await redis_client.xlen(stream.key) == len(unread)
