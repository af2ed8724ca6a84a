"""A real HTTP receiver (uvicorn) for notifications: ``/hook`` verifies the generic webhook's
signature and counts each accepted event id, ``/slack`` keeps the Slack texts. Tests of the
outbox and of every publisher (CLI, dashboard, watchdog) read what arrived here."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flags.secret import Secret
from service.devtools.child_processes import free_port
from service.notify.senders import EVENT_HEADER, SIGNATURE_HEADER, verify

__all__ = ["SECRET", "Receiver", "running_receiver"]

SECRET = Secret("s3cret")


class Receiver:
    """Verifies the signature, answers 500 to the first ``fail`` posts, counts accepted ids."""

    def __init__(self) -> None:
        self.fail = 0
        self.posts = 0
        self.bad_signatures = 0
        self.accepted: Counter[str] = Counter()
        self.events: dict[str, dict[str, Any]] = {}
        self.slack: list[str] = []

    async def webhook(self, request: Request) -> Response:
        body = await request.body()
        self.posts += 1
        if not verify(SECRET, body, request.headers.get(SIGNATURE_HEADER)):
            self.bad_signatures += 1
            return Response(status_code=401)
        if self.fail > 0:
            self.fail -= 1
            return Response(status_code=500)
        event = json.loads(body)
        assert request.headers[EVENT_HEADER] == event["id"]
        self.accepted[event["id"]] += 1  # a real receiver would drop repeats; we count them
        self.events[event["id"]] = event
        return Response(status_code=204)

    async def slack_hook(self, request: Request) -> Response:
        self.slack.append(json.loads(await request.body())["text"])
        return Response(status_code=200)


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[tuple[Receiver, str]]:
    """A :class:`Receiver` served on a free local port, and its base URL."""
    own = Receiver()
    app = Starlette(
        routes=[
            Route("/hook", own.webhook, methods=["POST"]),
            Route("/slack", own.slack_hook, methods=["POST"]),
        ]
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # started within 5 s
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield own, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
