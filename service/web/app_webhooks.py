"""``POST /webhooks/github/{system}``: a GitHub App's own webhook, gated by Switchyard.

Each ``github-app`` system's App points its webhook here (one path per system). The delivery is
checked with that App's secret (``SWITCHYARD_<SYSTEM>_WEBHOOK_SECRET``) by
:func:`~service.agents.github_app.intake.check_app_delivery` and appended to the event stream
with the system as its ``hook`` and GitHub's headers, deduplicated per hook by
``X-GitHub-Delivery``; the worker's gate forwards it to the App only when the App should see it.

====  ==========================================================================
202   ``{"accepted": true, "duplicate": bool, "entry": id}``: persisted (or seen before)
404   the path names no system, or one whose kind is not ``github-app``
4xx   refused like ``/webhooks/github`` (401 a wrong secret, another App's included; 400, 413,
      415)
503   the stream could not be written: nothing was persisted, GitHub may redeliver
====  ==========================================================================

Outcomes are counted in the hash ``Keys.app_webhook_counts(system)``.
"""

from __future__ import annotations

import contextlib
import logging

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flags.model import System
from flags.secret import Secret
from service.agents.github_app.intake import check_app_delivery
from service.errors import SwitchyardError, UnknownSystem
from service.github.intake import MAX_BODY_BYTES
from service.keys import Keys
from service.pipeline.stream import EventStream
from service.runtime import Runtime
from service.system_kinds import AgentKind
from service.web.body import read_body

__all__ = ["ROUTES", "app_counts_key", "app_webhook"]

_log = logging.getLogger("switchyard.webhooks")
_NO_SECRET = Secret("")  # refuses everything


def app_counts_key(prefix: str, system: System) -> str:
    """The Redis hash holding how many of ``system``'s App deliveries ended how."""
    return Keys(prefix).app_webhook_counts(system)


def _system(runtime: Runtime, name: str) -> System:
    try:
        system = System(name)
    except ValueError:
        raise UnknownSystem(f"no agent system is called {name[:40]!r}") from None
    kind = runtime.settings.kind(system)
    if kind is not AgentKind.GITHUB_APP:
        raise UnknownSystem(f"{system} is a {kind} system: it has no GitHub App webhook here")
    return system


async def app_webhook(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    system = _system(runtime, request.path_params["system"])
    counts = app_counts_key(runtime.prefix, system)
    secret = runtime.settings.systems[system].webhook_secret
    if secret is None:
        _log.error("no webhook secret for %s's App: refusing its deliveries", system)
    try:
        async with read_body(request, limit=MAX_BODY_BYTES) as body:
            return await _take(runtime, request, system, body, secret or _NO_SECRET)
    except SwitchyardError as error:
        with contextlib.suppress(RedisError):
            await runtime.redis.hincrby(counts, f"rejected:{error.status_code}", 1)
        raise


async def _take(
    runtime: Runtime, request: Request, system: System, body: bytes, secret: Secret
) -> Response:
    counts = app_counts_key(runtime.prefix, system)
    delivery = check_app_delivery(headers=request.headers, body=body, secret=secret)
    stream = EventStream(runtime.redis, prefix=runtime.prefix)
    try:
        created, entry_id = await stream.append(
            delivery_id=delivery.delivery_id,
            event=delivery.event,
            body=body,
            counts_key=counts,
            hook=str(system),
            headers=delivery.headers,
        )
    except RedisError as error:
        _log.error("delivery %s for %s not persisted: %r", delivery.delivery_id, system, error)
        return JSONResponse(
            {"error": "the delivery could not be persisted", "delivery_id": delivery.delivery_id},
            status_code=503,
        )
    return JSONResponse(
        {"accepted": True, "duplicate": not created, "entry": entry_id}, status_code=202
    )


ROUTES: list[Route] = [Route("/webhooks/github/{system}", app_webhook, methods=["POST"])]
