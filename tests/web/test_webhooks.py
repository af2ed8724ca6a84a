"""POST /webhooks/github, in-process (httpx ASGITransport), into the real Redis stream."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from service.github.events import CHECK_KINDS, ROUTED_ACTIONS
from service.github.intake import MAX_BODY_BYTES
from service.github.signature import sign
from service.pipeline.stream import EventStream
from service.web.webhooks import counts_key
from tests.conftest import InProcessService, raw_asgi_post
from tests.github.test_events import OCTOKIT

pytestmark = pytest.mark.integration

ISSUE_OPENED: dict[str, Any] = {
    "action": "opened",
    "issue": {"number": 42, "title": "Crash on start", "body": "It crashes.", "labels": []},
    "repository": {"full_name": "octo-org/octo-repo"},
    "sender": {"login": "octocat"},
}
BODY = json.dumps(ISSUE_OPENED).encode()


def _headers(
    edge: InProcessService, body: bytes, *, event: str = "issues", delivery: str | None = None
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(edge.settings.require_webhook_secret(), body),
    }


async def _post(edge: InProcessService, body: Any, headers: dict[str, str]) -> httpx.Response:
    return await edge.client.post("/webhooks/github", content=body, headers=headers)


def _stream(edge: InProcessService, redis_client: Redis) -> EventStream:
    return EventStream(redis_client, prefix=edge.settings.redis_prefix)


async def _stream_length(edge: InProcessService, redis_client: Redis) -> int:
    return int(await redis_client.xlen(_stream(edge, redis_client).key))


async def _counts(edge: InProcessService, redis_client: Redis) -> dict[str, int]:
    raw = await redis_client.hgetall(counts_key(edge.settings.redis_prefix))
    return {str(field): int(value) for field, value in raw.items()}


def _assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert "Traceback" not in response.text
    payload: dict[str, Any] = response.json()
    assert isinstance(payload["error"], str)
    assert payload["error"]
    return payload


# 401: nothing unsigned gets in


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param("sha256=" + "0" * 64, id="wrong"),
        pytest.param("sha1=" + "0" * 40, id="sha1"),
        pytest.param("other-body", id="right-signature-other-body"),
    ],
)
async def test_unsigned_or_wrongly_signed_delivery_is_401_and_not_enqueued(
    edge: InProcessService, redis_client: Redis, signature: str | None
) -> None:
    headers = _headers(edge, BODY, delivery="d-unsigned")
    if signature is None:
        del headers["X-Hub-Signature-256"]
    elif signature == "other-body":
        headers["X-Hub-Signature-256"] = sign(edge.settings.require_webhook_secret(), b"{}")
    else:
        headers["X-Hub-Signature-256"] = signature
    payload = _assert_error(await _post(edge, BODY, headers), 401)
    assert payload["delivery_id"] == "d-unsigned"
    assert await _stream_length(edge, redis_client) == 0
    assert await _counts(edge, redis_client) == {"rejected:401": 1}


# 400, 415, 413


async def test_broken_json_is_400_and_not_enqueued(
    edge: InProcessService, redis_client: Redis
) -> None:
    body = b'{"action": "opened", '
    payload = _assert_error(await _post(edge, body, _headers(edge, body)), 400)
    assert "not JSON" in payload["error"]
    assert await _stream_length(edge, redis_client) == 0
    assert await _counts(edge, redis_client) == {"rejected:400": 1}


async def test_routed_event_missing_a_field_is_400(
    edge: InProcessService, redis_client: Redis
) -> None:
    body = json.dumps({**ISSUE_OPENED, "repository": {}}).encode()
    payload = _assert_error(await _post(edge, body, _headers(edge, body)), 400)
    assert "repository.full_name" in payload["error"]
    assert await _stream_length(edge, redis_client) == 0


async def test_form_encoded_delivery_is_415_and_not_enqueued(
    edge: InProcessService, redis_client: Redis
) -> None:
    body = b"payload=%7B%7D"
    headers = {**_headers(edge, body), "Content-Type": "application/x-www-form-urlencoded"}
    _assert_error(await _post(edge, body, headers), 415)
    assert await _stream_length(edge, redis_client) == 0
    assert await _counts(edge, redis_client) == {"rejected:415": 1}


def _oversize_body() -> bytes:
    head = b'{"action": "opened", "padding": "'
    tail = b'"}'
    body = head + b"x" * (MAX_BODY_BYTES + 1 - len(head) - len(tail)) + tail
    assert len(body) == MAX_BODY_BYTES + 1
    return body


async def test_signed_body_just_over_25_mb_is_413_and_not_enqueued(
    edge: InProcessService, redis_client: Redis
) -> None:
    body = _oversize_body()
    _assert_error(await _post(edge, body, _headers(edge, body)), 413)
    assert await _stream_length(edge, redis_client) == 0
    assert await _counts(edge, redis_client) == {"rejected:413": 1}


async def test_chunked_body_is_cut_off_once_it_passes_the_limit(
    edge: InProcessService, redis_client: Redis
) -> None:
    """No Content-Length to go by: the handler stops reading at the limit."""
    body = _oversize_body()
    step = 1024 * 1024

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), step):
            yield body[start : start + step]

    response = await _post(edge, chunks(), _headers(edge, body))
    assert response.request.headers["transfer-encoding"] == "chunked"
    _assert_error(response, 413)
    assert await _stream_length(edge, redis_client) == 0


async def test_content_length_over_the_limit_is_413_before_the_body_is_read(
    edge: InProcessService, redis_client: Redis
) -> None:
    """The header promises more than the limit; the answer comes without asking for a byte."""
    headers = {**_headers(edge, BODY), "Content-Length": str(MAX_BODY_BYTES + 1)}
    status, payload, asked = await raw_asgi_post(edge.app, "/webhooks/github", headers)
    assert (status, asked) == (413, 0)
    assert "Content-Length" in payload["error"]
    assert await _stream_length(edge, redis_client) == 0


# ping, ignored


async def test_ping_is_200_and_not_enqueued(edge: InProcessService, redis_client: Redis) -> None:
    body = json.dumps({"zen": "Speak like a human.", "hook_id": 1}).encode()
    response = await _post(edge, body, _headers(edge, body, event="ping"))
    assert response.status_code == 200
    assert response.json() == {"pong": True}
    assert await _stream_length(edge, redis_client) == 0
    assert await _counts(edge, redis_client) == {"ping": 1}


async def test_star_is_202_ignored_counted_and_not_enqueued(
    edge: InProcessService, redis_client: Redis
) -> None:
    body = json.dumps({"action": "created", "starred_at": "2024-05-01T12:00:00Z"}).encode()
    for _ in range(2):
        response = await _post(edge, body, _headers(edge, body, event="star"))
        assert response.status_code == 202
        assert response.json() == {"ignored": True, "why": "event 'star' is not acted on"}
    assert await _stream_length(edge, redis_client) == 0
    assert await _counts(edge, redis_client) == {"ignored": 2}


# accepted


async def test_routed_issue_is_202_and_persisted_as_sent(
    edge: InProcessService, redis_client: Redis
) -> None:
    response = await _post(edge, BODY, _headers(edge, BODY, delivery="d-issue"))
    assert response.status_code == 202
    answer = response.json()
    assert (answer["accepted"], answer["duplicate"]) == (True, False)
    stream = _stream(edge, redis_client)
    await stream.ensure_group()
    [entry] = await stream.read("test", block_ms=100)
    assert (entry.entry_id, entry.delivery_id, entry.event) == (
        answer["entry"],
        "d-issue",
        "issues",
    )
    assert entry.body == BODY
    assert await _counts(edge, redis_client) == {"accepted": 1}


def _is_routed(event: str, payload: dict[str, Any]) -> bool:
    action = payload.get("action")
    return (
        (event == "issues" and action in ROUTED_ACTIONS)
        or (event == "pull_request" and action == "closed")
        or (event in CHECK_KINDS and action == "completed")
    )


async def test_every_octokit_example_is_taken_and_routed_ones_are_enqueued_once(
    edge: InProcessService, redis_client: Redis
) -> None:
    sent: dict[str, tuple[str, str, bytes]] = {}  # delivery id -> (example id, event, body)
    for param in OCTOKIT:
        event, payload = param.values
        assert isinstance(event, str)
        assert isinstance(payload, dict)
        sent[str(uuid.uuid4())] = (str(param.id), event, json.dumps(payload).encode())

    # Bounded: the runtime's Redis pool (100 connections, raising when exhausted) answers a
    # burst of 100+ concurrent deliveries with a few 503s.
    at_once = asyncio.Semaphore(32)

    async def deliver(delivery: str) -> tuple[str, httpx.Response]:
        _, event, body = sent[delivery]
        headers = _headers(edge, body, event=event, delivery=delivery)
        async with at_once:
            return delivery, await _post(edge, body, headers)

    answers = dict(await asyncio.gather(*(deliver(delivery) for delivery in sent)))
    failed = {
        sent[delivery][0]: (response.status_code, response.text[:200])
        for delivery, response in answers.items()
        if response.status_code not in (200, 202)
    }
    assert failed == {}

    routed = {d for d, (_, event, body) in sent.items() if _is_routed(event, json.loads(body))}
    assert routed, "the examples include routed events"
    claimed = {d for d, response in answers.items() if response.json().get("accepted")}
    assert claimed == routed
    stream = _stream(edge, redis_client)
    await stream.ensure_group()
    entries = await stream.read("test", count=10 * len(sent), block_ms=100)
    assert Counter(entry.delivery_id for entry in entries) == dict.fromkeys(routed, 1)
    for entry in entries:
        _, event, body = sent[entry.delivery_id]
        assert (entry.event, entry.body) == (event, body)
    pings = sum(1 for _, event, _ in sent.values() if event == "ping")
    assert await _counts(edge, redis_client) == {
        "accepted": len(routed),
        "ping": pings,
        "ignored": len(sent) - len(routed) - pings,
    }


async def test_same_delivery_fifty_times_at_once_is_enqueued_once(
    edge: InProcessService, redis_client: Redis
) -> None:
    headers = _headers(edge, BODY, delivery="d-redelivered")
    responses = await asyncio.gather(*(_post(edge, BODY, headers) for _ in range(50)))
    assert {response.status_code for response in responses} == {202}
    answers = [response.json() for response in responses]
    assert sum(answer["duplicate"] for answer in answers) == 49
    assert len({answer["entry"] for answer in answers}) == 1
    assert await _stream_length(edge, redis_client) == 1
    assert await _counts(edge, redis_client) == {"accepted": 1, "duplicate": 49}


async def test_a_count_that_cannot_be_written_never_fails_the_delivery(
    edge: InProcessService, redis_client: Redis
) -> None:
    counts = counts_key(edge.settings.redis_prefix)
    await redis_client.set(counts, "not a hash")  # HINCRBY now fails with WRONGTYPE
    response = await _post(edge, BODY, _headers(edge, BODY, delivery="d-uncounted"))
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] is True
    assert await _stream_length(edge, redis_client) == 1
    assert await redis_client.get(counts) == "not a hash"


# the stream cannot be written


async def test_delivery_that_cannot_be_persisted_is_503_never_202(
    edge: InProcessService, redis_client: Redis
) -> None:
    key = _stream(edge, redis_client).key
    await redis_client.set(key, "not a stream")  # XADD now fails with WRONGTYPE
    response = await _post(edge, BODY, _headers(edge, BODY, delivery="d-lost"))
    payload = _assert_error(response, 503)
    assert payload["delivery_id"] == "d-lost"
    assert await redis_client.type(key) == "string"
    assert await _counts(edge, redis_client) == {"rejected:503": 1}
