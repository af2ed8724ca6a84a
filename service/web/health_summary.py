"""``GET /health/summary``: what anyone may know, without a login.

The dashboard and ``/migration/status`` name people, their reasons, private repositories,
issue numbers and agents' error text, so they need a login. This summary shows only:

* ``status``: ``ok`` when every known component is ``ok``, else ``degraded``;
* ``components``: per component one word, ``ok``, ``down`` or ``unknown`` (not configured or
  not checked yet): both agent systems, Unleash and Redis from the health monitor's last
  result, and ``flags`` (``ok``, ``stale``, ``down``, or ``invalid`` when a flag cannot be
  interpreted) from this process;
* ``mode``: the migration's mode name (one of the five modes, ``invalid`` or None).

No detail, latency, time, name, reason, repository, issue, percentage or error text: the answer
is built from a fixed vocabulary, so nothing written by a person or an agent can reach it. It
reads a few Redis keys (the monitor's latest results and the break-glass override) and never
probes anything, so it costs a stranger's request next to nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flags.model import Mode
from service.health.monitor import COMPONENTS
from service.migration.brake import Brake
from service.migration.routed_flags import routed_state
from service.runtime import Runtime

__all__ = ["ROUTES", "summarize"]

_MODES = {mode.value for mode in Mode} | {"invalid"}
_FLAGS = {"ready": "ok", "stale": "stale", "error": "down"}


def _word(record: str | None) -> str:
    if record is None:
        return "unknown"
    try:
        healthy = json.loads(record).get("healthy")
    except (ValueError, AttributeError):
        return "unknown"
    return "ok" if healthy is True else "down" if healthy is False else "unknown"


def summarize(
    latest: Mapping[str, str | None], *, flags: str, flags_invalid: bool, mode: Any, override: bool
) -> dict[str, Any]:
    """The summary from the monitor's raw records, the provider's freshness and the mode;
    pure. Every value is chosen from a fixed set."""
    components = {name: _word(latest.get(name)) for name in COMPONENTS}
    components["flags"] = "invalid" if flags_invalid else _FLAGS.get(flags, "unknown")
    shown = Mode.EMERGENCY_ROLLBACK.value if override else mode if mode in _MODES else None
    degraded = any(word not in ("ok", "unknown") for word in components.values())
    return {
        "status": "degraded" if degraded else "ok",
        "components": components,
        "mode": shown,
    }


async def health_summary(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    latest: dict[str, str | None] = {}
    override = False
    try:
        for name in COMPONENTS:
            raw = await runtime.redis.get(runtime.keys.health_latest(name))
            latest[name] = str(raw) if raw is not None else None
        brake = await Brake(runtime.redis, prefix=runtime.prefix).read()
        override = brake is not None and brake.pending
    except RedisError:
        latest["redis"] = json.dumps({"healthy": False})
    summary = summarize(
        latest,
        flags=runtime.provider.freshness(),
        flags_invalid=bool(runtime.provider.problems()),
        mode=routed_state(runtime.provider).get("mode"),
        override=override,
    )
    return JSONResponse(summary, headers={"Cache-Control": "no-store"})


ROUTES = [Route("/health/summary", health_summary)]
