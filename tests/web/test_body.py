"""The one capped body reader: every endpoint stops reading at its limit, and large bodies are
read a few at a time (503 with Retry-After beyond that), in-process against the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from service.agents.completion import COMPLETION_SIGNATURE_HEADER
from service.web.body import LARGE_BODY_BYTES, RETRY_AFTER_SECONDS, LargeBodies
from service.web.completions import MAX_COMPLETION_BYTES
from tests.conftest import InProcessService, raw_asgi_post

pytestmark = pytest.mark.integration

CHUNK = 64 * 1024


class Trickle:
    """A chunked body of ``total`` bytes that counts what the server pulled; it pauses after
    ``pause_after`` bytes until ``resume`` is set."""

    def __init__(self, total: int, *, pause_after: int | None = None) -> None:
        self.total = total
        self.pulled = 0
        self.pause_after = pause_after
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            if self.pause_after is not None and self.pulled >= self.pause_after:
                self.paused.set()
                await self.resume.wait()
            size = min(CHUNK, self.total - self.pulled)
            self.pulled += size
            yield b"x" * size


@pytest.mark.parametrize(
    ("path", "limit", "headers"),
    [
        pytest.param(
            "/agents/python/completions",
            MAX_COMPLETION_BYTES,
            {COMPLETION_SIGNATURE_HEADER: "sha256=" + "0" * 64},
            id="completion",
        ),
        pytest.param(
            "/migration/dashboard/actions/rollout",
            16 * 1024,
            {"Content-Type": "application/x-www-form-urlencoded"},
            id="dashboard-form",
        ),
        pytest.param("/webhooks/github", 25 * 1024 * 1024, {}, id="webhook"),
    ],
)
async def test_a_body_over_the_limit_is_cut_off_not_read_to_the_end(
    edge: InProcessService, path: str, limit: int, headers: dict[str, str]
) -> None:
    body = Trickle(limit + 8 * 1024 * 1024)
    response = await edge.client.post(path, content=body, headers=headers)
    assert response.status_code == 413, response.text
    assert body.pulled <= limit + CHUNK  # not the 8 MiB beyond it


async def test_a_content_length_that_is_not_a_decimal_number_is_400(
    edge: InProcessService,
) -> None:
    for declared in ("²", "12a", "-1", "1" * 40):
        status, payload, asked = await raw_asgi_post(
            edge.app, "/agents/python/completions", {"Content-Length": declared}
        )
        assert (status, asked) == (400, 0), (declared, payload)
        assert "Content-Length" in payload["error"]


async def test_large_bodies_beyond_the_slots_are_503_with_retry_after(
    edge: InProcessService,
) -> None:
    slots: LargeBodies = edge.app.state.large_bodies
    assert slots.slots == edge.settings.max_large_bodies
    held = [
        Trickle(3 * LARGE_BODY_BYTES, pause_after=2 * LARGE_BODY_BYTES) for _ in range(slots.slots)
    ]
    posts = [
        asyncio.create_task(edge.client.post("/webhooks/github", content=body)) for body in held
    ]
    await asyncio.gather(*(body.paused.wait() for body in held))
    assert slots.in_use == slots.slots

    # One more large body, chunked: refused once it grows past the threshold.
    extra = Trickle(3 * LARGE_BODY_BYTES)
    refused = await edge.client.post("/webhooks/github", content=extra)
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert extra.pulled <= LARGE_BODY_BYTES + CHUNK
    # One declared large by Content-Length: refused before a byte is read.
    status, payload, asked = await raw_asgi_post(
        edge.app, "/webhooks/github", {"Content-Length": str(2 * LARGE_BODY_BYTES)}
    )
    assert (status, asked) == (503, 0)
    assert "large bodies" in payload["error"]
    # Small bodies never wait for a slot.
    small = await edge.client.post("/webhooks/github", content=b"{}")
    assert small.status_code == 401

    for body in held:
        body.resume.set()
    answers: list[httpx.Response] = await asyncio.gather(*posts)
    assert {answer.status_code for answer in answers} == {401}  # read whole, then unsigned
    assert slots.in_use == 0
    again = await edge.client.post("/webhooks/github", content=Trickle(3 * LARGE_BODY_BYTES))
    assert again.status_code == 401
