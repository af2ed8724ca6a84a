"""The outbox against the real Redis and a real HTTP receiver (uvicorn) that checks signatures
and counts each event: exactly once under retries, duplicates and two senders at once; a receiver
that is down costs one short failed attempt, never an exception."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from flags.secret import Secret
from service.devtools.child_processes import free_port
from service.keys import Keys
from service.notify.outbox import Notification, Outbox
from service.notify.senders import Sender, SlackSender, WebhookSender, sign, verify
from tests.notify.receiver import SECRET, Receiver, running_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    async with running_receiver() as running:
        yield running


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _outbox(redis: Redis, prefix: str, http: httpx.AsyncClient, url: str, clock: Clock) -> Outbox:
    senders: list[Sender] = [
        WebhookSender(http=http, url=f"{url}/hook", secret=SECRET, timeout=2),
        SlackSender(http=http, url=f"{url}/slack", dashboard_url="http://sy/migration/dashboard"),
    ]
    return Outbox(redis, prefix=prefix, senders=senders, clock=clock)


def _event(kind: str = "plan_advanced") -> Notification:
    return Notification(kind, "plan advanced 10 -> 25 %", "plan p1 (started by alice)", {"step": 1})


@pytest.mark.integration
async def test_each_event_reaches_each_receiver_once_under_retries_and_repeats(
    receiver: tuple[Receiver, str], redis_client: Redis, prefix: str, http: httpx.AsyncClient
) -> None:
    own, url = receiver
    own.fail = 2
    clock = Clock()
    outbox = _outbox(redis_client, prefix, http, url, clock)
    event = _event()
    assert await outbox.publish(event) is True
    assert await outbox.publish(event) is False  # the same id again: dropped
    assert await outbox.deliver_due() == 1  # slack took it; the webhook answered 500
    assert await outbox.deliver_due() == 0  # the retry is not due yet (backoff 2 s)
    for _ in range(4):
        clock.now += 300
        await outbox.deliver_due()
    assert own.accepted == Counter({event.id: 1})
    assert own.posts == 3 and own.bad_signatures == 0
    assert own.slack == [
        "plan advanced 10 -> 25 % (by plan p1 (started by alice)) <http://sy/migration/dashboard|dashboard>"
    ]
    states = {row["receiver"]: row for row in await outbox.recent()}
    assert states["webhook"]["status"] == "delivered" and states["webhook"]["attempts"] == 3
    assert states["slack"]["attempts"] == 1
    assert states["webhook"]["event"]["kind"] == "plan_advanced"


@pytest.mark.integration
async def test_a_publisher_without_senders_is_delivered_by_the_deliverer_to_each_of_its_own(
    receiver: tuple[Receiver, str], redis_client: Redis, prefix: str, http: httpx.AsyncClient
) -> None:
    own, url = receiver
    clock = Clock()
    publisher = Outbox(redis_client, prefix=prefix, clock=clock)  # the CLI, the dashboard
    event = _event("plan_paused")
    assert await publisher.publish(event) is True
    assert await publisher.publish(event) is False
    assert [(r["receiver"], r["status"]) for r in await publisher.recent()] == [("*", "pending")]
    assert await publisher.deliver_due() == 0  # no sender here: nothing is taken from the queue
    assert await redis_client.zcard(Keys(prefix).notify_due) == 1
    deliverer = _outbox(redis_client, prefix, http, url, clock)  # the watchdog
    first, second = await asyncio.gather(deliverer.deliver_due(), deliverer.deliver_due())
    assert first + second == 2
    assert own.accepted == Counter({event.id: 1}) and len(own.slack) == 1
    rows = {r["receiver"]: r["status"] for r in await publisher.recent()}
    assert rows == {"webhook": "delivered", "slack": "delivered"}


@pytest.mark.integration
async def test_two_senders_at_once_deliver_each_event_once(
    receiver: tuple[Receiver, str], redis_client: Redis, prefix: str, http: httpx.AsyncClient
) -> None:
    own, url = receiver
    clock = Clock()
    first, second = (_outbox(redis_client, prefix, http, url, clock) for _ in range(2))
    events = [_event(f"plan_e{i}") for i in range(10)]
    for event in events:
        await first.publish(event)
    delivered = await asyncio.gather(first.deliver_due(), second.deliver_due())
    assert sum(delivered) == 20  # ten events, two receivers, each once
    assert own.accepted == Counter({event.id: 1 for event in events})


@pytest.mark.integration
async def test_a_receiver_that_is_down_fails_fast_and_gives_up_in_the_end(
    redis_client: Redis, prefix: str, http: httpx.AsyncClient
) -> None:
    clock = Clock()
    dead = f"http://127.0.0.1:{free_port()}"
    sender = WebhookSender(http=http, url=f"{dead}/hook", secret=SECRET, timeout=1)
    outbox = Outbox(redis_client, prefix=prefix, senders=[sender], clock=clock, max_attempts=3)
    await outbox.publish(_event())
    for _ in range(5):
        assert await outbox.deliver_due() == 0
        clock.now += 300
    (row,) = await outbox.recent()
    assert (row["status"], row["attempts"], row["error"]) == ("failed", 3, "ConnectError")


def test_signatures_are_githubs_shape_and_checked_in_constant_time() -> None:
    body = b'{"id": "x"}'
    header = sign(SECRET, body)  # hmac.new(b"s3cret", body, sha256).hexdigest()
    assert header == "sha256=79bb6f40da09dc5a47a58eb71b4abfc13faf041d3179db297751d174178c5a37"
    assert verify(SECRET, body, header)
    assert not verify(SECRET, body + b" ", header)
    assert not verify(Secret("other"), body, header)
    assert not verify(SECRET, body, None)
