"""The health monitor: the one prober of every component, on an interval, with a history in Redis.

Each round probes both agent systems' ``/health``, Unleash's ``/health`` and Redis, and records
per component the latest result, the number of consecutive failures and the last 1,000 results
(``Keys.health_latest``, ``health_failures``, ``health_history``). Everything else reads these
records: ``/migration/status``, ``/metrics``, the dashboard, and the watchdog's health rule
("python failed its last 3 checks"), which never probes itself.

Where it runs: the service's lifespan and the watchdog process both run :meth:`run`, so health
stays fresh whichever of them is up. However many monitors run, one probes: a round is taken only
by the holder of a Redis lease (``Keys.health_lease``, renewed each round, lapsing after 2.5
intervals without one), so each interval records one result and a failed probe is counted once.
:meth:`check` is one round without the lease (tests use it); :meth:`probe` records nothing
(``switchyard status`` shows it when no round was recorded yet, or with ``--probe``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError

from flags.model import System
from service.keys import Keys
from service.leases import Lease
from service.runtime import Runtime
from service.system_kinds import AgentKind

__all__ = ["HealthMonitor", "monitor_for", "probe_http", "read_health", "recorded_health"]

_log = logging.getLogger("switchyard.health")
_HISTORY = 1000

COMPONENTS = ("typescript", "python", "unleash", "redis")


async def probe_http(
    http: httpx.AsyncClient, base_url: str | None, *, reachable_only: bool = False
) -> dict[str, Any]:
    """``GET {base_url}/health`` answers 200; with ``reachable_only`` (a GitHub App's webhook
    endpoint, which has no health route): ``GET {base_url}`` answers anything below 500."""
    if base_url is None:
        return {"healthy": None, "detail": "not configured"}
    started = time.perf_counter()
    try:
        url = base_url if reachable_only else f"{base_url}/health"
        response = await http.get(url, timeout=2.0)
    except httpx.HTTPError as error:
        return {"healthy": False, "detail": type(error).__name__}
    status = response.status_code
    return {
        "healthy": status < 500 if reachable_only else status == 200,
        "detail": f"HTTP {response.status_code}",
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }


class HealthMonitor:
    def __init__(
        self,
        *,
        redis: Redis,
        http: httpx.AsyncClient,
        prefix: str,
        urls: dict[str, str | None],
        reachable_only: frozenset[str] = frozenset(),
    ) -> None:
        self._reachable_only = reachable_only
        self._redis = redis
        self._http = http
        self._keys = Keys(prefix)
        self._urls = urls  # typescript, python, unleash -> base URL
        self._lease = Lease(
            redis, key=self._keys.health_lease, holder=uuid.uuid4().hex, ttl_seconds=25.0
        )

    async def _probe_redis(self) -> dict[str, Any]:
        try:
            return {"healthy": bool(await self._redis.ping()), "detail": "PONG"}
        except RedisError as error:
            return {"healthy": False, "detail": type(error).__name__}

    async def probe(self) -> dict[str, dict[str, Any]]:
        """Probe every component now, recording nothing."""
        names = [name for name in COMPONENTS if name != "redis"]
        results = await asyncio.gather(
            *(
                probe_http(self._http, self._urls.get(n), reachable_only=n in self._reachable_only)
                for n in names
            )
        )
        checks = dict(zip(names, results, strict=True))
        checks["redis"] = await self._probe_redis()
        return checks

    async def check(self) -> dict[str, dict[str, Any]]:
        """One round: probe everything, record it, return the results."""
        checks = await self.probe()
        now = time.time()
        with contextlib.suppress(RedisError):
            async with self._redis.pipeline(transaction=False) as pipe:
                for name, result in checks.items():
                    if result["healthy"] is None:
                        continue
                    record = json.dumps({**result, "at": now})
                    pipe.set(self._keys.health_latest(name), record)
                    pipe.lpush(self._keys.health_history(name), record)
                    pipe.ltrim(self._keys.health_history(name), 0, _HISTORY - 1)
                    if result["healthy"]:
                        pipe.set(self._keys.health_failures(name), 0)
                    else:
                        pipe.incr(self._keys.health_failures(name))
                await pipe.execute()
        return checks

    async def tick(self, *, interval_seconds: float = 10.0) -> dict[str, dict[str, Any]] | None:
        """One round at the monitors' cadence: probe and record if this monitor holds the
        lease (taking it when it is free), else nothing (another monitor probes): None."""
        if not await self._lease.acquire(ttl_seconds=interval_seconds * 2.5):
            return None
        return await self.check()

    async def run(self, stop: asyncio.Event, *, interval_seconds: float = 10.0) -> None:
        while not stop.is_set():
            try:
                await self.tick(interval_seconds=interval_seconds)
            except Exception:  # the monitor must outlive any surprise
                _log.exception("health round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)


def monitor_for(runtime: Runtime) -> HealthMonitor:
    """Agent systems by kind: a job API's ``/health``; a GitHub App's webhook URL answering at
    all; a label or assignee bot is not probed (it is reached through GitHub)."""
    settings = runtime.settings
    urls: dict[str, str | None] = {"unleash": settings.unleash_url}
    apps = set()
    for system, job_api in (
        (System.TYPESCRIPT, settings.typescript_url),
        (System.PYTHON, settings.python_url),
    ):
        kind = settings.kind(system)
        if kind is AgentKind.GITHUB_APP:
            urls[system.value] = settings.systems[system].webhook_url
            apps.add(system.value)
        else:
            urls[system.value] = job_api if kind is AgentKind.JOB_API else None
    return HealthMonitor(
        redis=runtime.redis,
        http=runtime.http,
        prefix=runtime.prefix,
        urls=urls,
        reachable_only=frozenset(apps),
    )


async def read_health(redis: Redis, *, prefix: str) -> dict[str, dict[str, Any]]:
    """The latest recorded result of each component, with its consecutive failures."""
    keys = Keys(prefix)
    async with redis.pipeline(transaction=False) as pipe:  # one round trip
        for name in COMPONENTS:
            pipe.get(keys.health_latest(name))
            pipe.get(keys.health_failures(name))
            pipe.llen(keys.health_history(name))
        replies = await pipe.execute()
    summary: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(COMPONENTS):
        latest, failures, history = replies[3 * i : 3 * i + 3]
        if latest is None:
            continue
        summary[name] = {
            **json.loads(latest),
            "consecutive_failures": int(failures or 0),
            "history": history,
        }
    return summary


def recorded_health(recorded: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per component, the monitor's last result (``healthy`` None until it has one): what a
    status read or a scrape shows, instead of probing the components itself."""
    return {
        name: {
            key: recorded[name][key]
            for key in ("healthy", "detail", "latency_ms", "at", "consecutive_failures")
            if key in recorded[name]
        }
        if name in recorded
        else {"healthy": None, "detail": "not checked yet"}
        for name in COMPONENTS
    }
