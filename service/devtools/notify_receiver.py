"""A notification receiver for the demo: the generic webhook's other end, run in-process.

``POST /`` checks ``X-Switchyard-Signature-256`` over the raw body with the shared secret
(401 when it is missing or wrong, nothing recorded), then takes each event id
(``X-Switchyard-Event``, which must match the body's ``id``) once: the first delivery is recorded
and announced through ``say`` as it arrives, a repeat (the outbox retries after a lost answer) is
answered 200 and only counted. :func:`serve_receiver` runs it with uvicorn on a free local port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flags.secret import Secret
from service.devtools.child_processes import free_port
from service.escape import escape
from service.notify.senders import EVENT_HEADER, SIGNATURE_HEADER, verify

__all__ = ["NotificationReceiver", "ReceivedEvent", "serve_receiver"]


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    id: str
    kind: str
    text: str
    actor: str
    received_at: float
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "text": self.text,
            "actor": self.actor,
            "received_at": self.received_at,
        }


class NotificationReceiver:
    """Verifies, deduplicates by event id and announces each event once."""

    def __init__(self, *, secret: Secret, say: Callable[[str], None] = lambda _line: None):
        self._secret = secret
        self._say = say
        self.events: list[ReceivedEvent] = []  # first deliveries, in order of arrival
        self.deliveries: Counter[str] = Counter()  # every signed delivery per event id
        self.bad_signatures = 0

    @property
    def duplicates(self) -> int:
        return sum(self.deliveries.values()) - len(self.deliveries)

    def counts(self) -> dict[str, int]:
        return dict(Counter(event.kind for event in self.events))

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        if not verify(self._secret, body, request.headers.get(SIGNATURE_HEADER)):
            self.bad_signatures += 1
            return Response("bad signature\n", status_code=401)
        try:
            raw = json.loads(body)
            event_id, kind = str(raw["id"]), str(raw["kind"])
        except (ValueError, KeyError, TypeError):
            return Response("not a notification\n", status_code=400)
        if request.headers.get(EVENT_HEADER) != event_id:
            return Response(f"{EVENT_HEADER} does not match the body's id\n", status_code=400)
        self.deliveries[event_id] += 1
        if self.deliveries[event_id] > 1:
            return Response(status_code=200)  # a retry of an event already taken
        event = ReceivedEvent(
            id=event_id,
            kind=kind,
            text=str(raw.get("text", "")),
            actor=str(raw.get("actor", "")),
            received_at=time.time(),
            details=raw.get("details") if isinstance(raw.get("details"), dict) else {},
        )
        self.events.append(event)
        self._say(f"   >> notification {escape(event.kind)}: {escape(event.text, limit=300)}")
        return Response(status_code=204)


@contextlib.asynccontextmanager
async def serve_receiver(receiver: NotificationReceiver) -> AsyncIterator[str]:
    """Serve ``receiver`` on 127.0.0.1 at a free port; yields its URL."""
    port = free_port()
    app = Starlette(routes=[Route("/", receiver.handle, methods=["POST"])])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises why it could not start
                raise OSError(f"the notification receiver did not start on port {port}")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await task
