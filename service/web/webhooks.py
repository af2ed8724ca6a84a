"""``POST /webhooks/github``, the HTTP edge of :mod:`service.github.intake`.

The handler reads the raw body under a hard cap (a ``Content-Length`` over the limit is refused
before reading; a streamed body is cut off as soon as it passes the limit), hands the bytes to
:func:`~service.github.intake.check_delivery`, and appends accepted deliveries to the event stream
(deduplicated by ``X-GitHub-Delivery``) before answering:

====  ==========================================================================
202   ``{"accepted": true, "duplicate": bool, "entry": id}``: persisted (or seen before)
202   ``{"ignored": true, "why": ...}``: an event Switchyard does not act on; not persisted
      (a ``pull_request`` ``opened`` or ``issue_comment`` ``created`` is persisted when a
      system reports its outcomes only through GitHub)
200   ``{"pong": true}``: GitHub's ``ping``
4xx   ``{"error": ..., "delivery_id": ...}``: refused (401, 400, 413, 415; see intake)
503   the stream could not be written: nothing was persisted, GitHub may redeliver
====  ==========================================================================

Every outcome is counted in the Redis hash ``Keys.webhook_counts`` (``accepted``,
``duplicate``, ``ignored``, ``ping``, ``rejected:<status>``); counting is best effort and never
changes the answer. ``accepted`` and ``duplicate`` are counted by the append script itself, so
a persisted delivery costs one Redis round trip.

Errors are answered by the app's one table, :mod:`service.web.errors`.
"""

from __future__ import annotations

import contextlib
import logging

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flags.secret import Secret
from service.errors import SwitchyardError
from service.github.events import Ignored, Ping
from service.github.intake import MAX_BODY_BYTES, check_delivery
from service.keys import Keys
from service.pipeline.stream import EventStream
from service.runtime import Runtime
from service.web.body import read_body

__all__ = ["ROUTES", "counts_key", "github_webhook"]

_log = logging.getLogger("switchyard.webhooks")
_NO_SECRET = Secret("")  # verify_signature refuses everything under an empty secret


def counts_key(prefix: str) -> str:
    """The Redis hash holding how many deliveries ended how."""
    return Keys(prefix).webhook_counts


async def github_webhook(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    secret = runtime.settings.webhook_secret
    if secret is None:
        _log.error("SWITCHYARD_WEBHOOK_SECRET is not set: refusing every GitHub delivery")
    try:
        async with read_body(request, limit=MAX_BODY_BYTES) as body:
            return await _take(runtime, request, body, secret or _NO_SECRET)
    except SwitchyardError as error:
        await _count(runtime, f"rejected:{error.status_code}")
        raise


async def _take(runtime: Runtime, request: Request, body: bytes, secret: Secret) -> Response:
    outcome = check_delivery(headers=request.headers, body=body, secret=secret)
    if isinstance(outcome, Ping):
        await _count(runtime, "ping")
        return JSONResponse({"pong": True})
    if isinstance(outcome, Ignored) and not _for_outcomes(runtime, outcome):
        await _count(runtime, "ignored")
        return JSONResponse({"ignored": True, "why": outcome.why}, status_code=202)
    stream = EventStream(runtime.redis, prefix=runtime.prefix)
    try:
        created, entry_id = await stream.append(
            delivery_id=outcome.delivery_id,
            event=outcome.event,
            body=body,
            counts_key=counts_key(runtime.prefix),  # counted in the same round trip
        )
    except RedisError as error:
        _log.error("delivery %s not persisted: %r", outcome.delivery_id, error)
        await _count(runtime, "rejected:503")
        return JSONResponse(
            {"error": "the delivery could not be persisted", "delivery_id": outcome.delivery_id},
            status_code=503,
        )
    _log.info(
        "delivery %s (%s) %s as %s",
        outcome.delivery_id,
        outcome.event,
        "accepted" if created else "was a duplicate",
        entry_id,
    )
    return JSONResponse(
        {"accepted": True, "duplicate": not created, "entry": entry_id}, status_code=202
    )


_OUTCOME_EVENTS = frozenset({("pull_request", "opened"), ("issue_comment", "created")})


def _for_outcomes(runtime: Runtime, ignored: Ignored) -> bool:
    """A bot's PR or comment is kept when a system reports its outcomes only through GitHub."""
    silent = any(not config.kind.calls_back for config in runtime.settings.systems.values())
    return silent and (ignored.event, ignored.action) in _OUTCOME_EVENTS


async def _count(runtime: Runtime, outcome: str) -> None:
    with contextlib.suppress(RedisError):
        await runtime.redis.hincrby(counts_key(runtime.prefix), outcome, 1)


ROUTES: list[Route] = [Route("/webhooks/github", github_webhook, methods=["POST"])]
