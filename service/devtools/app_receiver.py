"""A GitHub App's webhook endpoint, played for tests, the demo and the benchmark.

:func:`create_app_receiver` answers ``POST /`` like an App built on a webhook framework: it
checks ``X-Hub-Signature-256`` over the raw body with the App's secret (401 if wrong), takes
each ``X-GitHub-Delivery`` once (a repeat is answered 200 and not recorded again), and records
what it received, raw body and headers included, with the time it arrived. Its controls:

- ``GET /_deliveries``: the recorded deliveries, oldest first (``body`` as text);
- ``POST /_control`` ``{"fail_status": 503}``: answer every delivery with that status (without
  recording it) until set back to ``null``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flags.secret import Secret
from service.errors import SignatureError
from service.github.signature import GITHUB_SIGNATURE_HEADER, verify_signature

__all__ = ["ReceivedDelivery", "create_app_receiver"]


@dataclass(frozen=True, slots=True)
class ReceivedDelivery:
    delivery_id: str
    event: str
    received_at: float
    body: str
    headers: dict[str, str]
    repeats: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "event": self.event,
            "received_at": self.received_at,
            "body": self.body,
            "headers": self.headers,
        }


@dataclass
class _State:
    secret: Secret
    fail_status: int | None = None
    received: dict[str, ReceivedDelivery] = field(default_factory=dict)
    repeats: int = 0


def create_app_receiver(*, secret: Secret) -> Starlette:
    state = _State(secret)

    async def receive(request: Request) -> Response:
        arrived = time.time()
        body = await request.body()
        try:
            verify_signature(
                secret=state.secret,
                body=body,
                header=request.headers.get(GITHUB_SIGNATURE_HEADER),
            )
        except SignatureError as error:
            return JSONResponse({"error": error.message}, status_code=401)
        if state.fail_status is not None:
            return JSONResponse({"error": "told to fail"}, status_code=state.fail_status)
        delivery_id = request.headers.get("x-github-delivery", "")
        if delivery_id in state.received:
            state.repeats += 1
            return JSONResponse({"duplicate": True})
        state.received[delivery_id] = ReceivedDelivery(
            delivery_id=delivery_id,
            event=request.headers.get("x-github-event", ""),
            received_at=arrived,
            body=body.decode(),
            headers=dict(request.headers),
        )
        return JSONResponse({"ok": True})

    async def deliveries(request: Request) -> JSONResponse:
        return JSONResponse([delivery.as_dict() for delivery in state.received.values()])

    async def control(request: Request) -> JSONResponse:
        changes = json.loads(await request.body())
        fail = changes.get("fail_status") if isinstance(changes, dict) else None
        state.fail_status = fail if isinstance(fail, int) and 400 <= fail <= 599 else None
        return JSONResponse({"fail_status": state.fail_status, "repeats": state.repeats})

    return Starlette(
        routes=[
            Route("/", receive, methods=["POST"]),
            Route("/_deliveries", deliveries),
            Route("/_control", control, methods=["POST"]),
        ]
    )
