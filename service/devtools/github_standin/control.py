"""The stand-in's own controls under ``/_standin/``, for tests and the demo (no GitHub shape).

* ``POST /_standin/deliveries``: GitHub sends an event, ``{"hook", "event", "payload",
  "guid"?}`` -> 201 with the attempt (a failed one if the receiver is down);
* ``GET /_standin/hooks``: every hook, its receiver and its attempt counts;
* ``POST /_standin/limits``: any of ``limit``, ``secondary_limit``, ``secondary_window``,
  ``secondary_retry_after``, ``secondary_status``, ``force_secondary``, ``redelivery_limit``
  -> 200 with all of them.

They need no credentials: the stand-in listens on loopback and plays GitHub for one developer.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.devtools.github_standin.deliveries import DeliveryStore, UnknownDelivery
from service.devtools.github_standin.ratelimit import StandinLimits

__all__ = ["control_routes"]

_INT_FIELDS = {"limit", "secondary_retry_after", "secondary_status", "force_secondary"}
_FLOAT_FIELDS = {"secondary_window"}


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def control_routes(store: DeliveryStore, limits: StandinLimits) -> list[Route]:
    async def send(request: Request) -> Response:
        body = await _json_object(request)
        if body is None:
            return JSONResponse({"error": "expected a JSON object"}, status_code=400)
        hook, event, payload = body.get("hook"), body.get("event"), body.get("payload")
        guid = body.get("guid")
        if not isinstance(hook, str) or not isinstance(event, str) or not isinstance(payload, dict):
            return JSONResponse({"error": "need hook, event and payload"}, status_code=400)
        if guid is not None and not isinstance(guid, str):
            return JSONResponse({"error": "guid must be a string"}, status_code=400)
        try:
            attempt = await store.send(hook, event=event, payload=payload, guid=guid)
        except UnknownDelivery:
            return JSONResponse({"error": "no such hook"}, status_code=404)
        return JSONResponse(attempt.as_json(), status_code=201)

    async def hooks(request: Request) -> Response:
        return JSONResponse(
            {
                spec: {
                    "url": hook.target.url,
                    "attempts": len(hook.attempts),
                    "failed": sum(1 for a in hook.attempts if not 200 <= a.status_code < 300),
                    "guids": len(hook.payloads),
                }
                for spec, hook in store.hooks.items()
            }
        )

    async def set_limits(request: Request) -> Response:
        body = await _json_object(request)
        if body is None:
            return JSONResponse({"error": "expected a JSON object"}, status_code=400)
        conf = limits.settings
        for name, value in body.items():
            if name == "redelivery_limit" and isinstance(value, int):
                store.redelivery_limit = value
            elif name in _INT_FIELDS and isinstance(value, int):
                setattr(conf, name, value)
            elif name in _FLOAT_FIELDS and isinstance(value, int | float):
                setattr(conf, name, float(value))
            elif name == "secondary_limit" and (value is None or isinstance(value, int)):
                conf.secondary_limit = value
            else:
                return JSONResponse({"error": f"cannot set {name[:40]!r}"}, status_code=400)
        return JSONResponse(
            {**dataclasses.asdict(conf), "redelivery_limit": store.redelivery_limit}
        )

    return [
        Route("/_standin/deliveries", send, methods=["POST"]),
        Route("/_standin/hooks", hooks),
        Route("/_standin/limits", set_limits, methods=["POST"]),
    ]
