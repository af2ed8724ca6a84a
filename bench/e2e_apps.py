"""End to end with both systems as ``github-app`` receivers: the gate's throughput and latency.

Real OS processes through the CLI, on a Redis prefix of its own: ``switchyard serve``, one
``switchyard worker`` and two ``switchyard simulate-app`` receivers (an App's webhook endpoint:
it verifies the signature and records each delivery with its arrival time), with
``SWITCHYARD_TYPESCRIPT_KIND`` and ``SWITCHYARD_PYTHON_KIND`` set to ``github-app``. Flags are the
provisioned defaults (``typescript_only``): every issue's typescript copy is forwarded, its python
copy withheld. Each event is two deliveries, one per App (own delivery id, own signature), posted
to ``/webhooks/github/{system}``.

Two phases after a warm-up of 20 events:

- throughput: ``events`` events posted by 8 concurrent connections as fast as the service takes
  them; forwarded deliveries per second = events / (last arrival at the typescript App - first
  post). A backlog builds, as in the job-API run.
- latency: 60 events paced at half the measured throughput (at most 20 per second), under the
  capacity, so the time from Switchyard's 202 (the post returned) to the App's receipt is the
  gate's added latency (stream, worker, routing under the issue lock, re-signing, the forward),
  not time in a backlog.

Both Apps are checked: the typescript App got every event exactly once, the python App none.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from bench.common import (
    SWITCHYARD,
    child,
    delete_prefix,
    free_port,
    issue_delivery,
    log_dir,
    percentile,
    settings_for,
    unique_prefix,
    wait_ready,
)
from bench.loadgen import RawTarget
from flags.model import System
from flags.secret import Secret
from service.devtools.webhook_sender import delivery_headers
from service.github.signature import sign

__all__ = ["measure_apps"]

WARMUP = 20
PACED_EVENTS = 60
MAX_PACE_PER_S = 20.0
SENDERS = 8
_DONE_WITHIN = 180.0


@contextlib.asynccontextmanager
async def _gated(
    env: dict[str, str], prefix: str, secrets: dict[System, str]
) -> AsyncIterator[tuple[str, dict[System, str]]]:
    """Receivers, service and one worker running: (service URL, App receiver URLs)."""
    app_urls = {system: f"http://127.0.0.1:{free_port()}" for system in System}
    port = free_port()
    service_url = f"http://127.0.0.1:{port}"
    own = {**env, "SWITCHYARD_REDIS_PREFIX": prefix, "SWITCHYARD_URL": service_url}
    own |= {"SWITCHYARD_PORT": str(port), "SWITCHYARD_INSTANCE": "bench-e2e-apps"}
    for system in System:
        name = system.value.upper()
        own[f"SWITCHYARD_{name}_KIND"] = "github-app"
        own[f"SWITCHYARD_{name}_WEBHOOK_SECRET"] = secrets[system]
        own[f"SWITCHYARD_{name}_WEBHOOK_URL"] = f"{app_urls[system]}/"
    async with contextlib.AsyncExitStack() as stack:
        ready = []
        for system, url in app_urls.items():
            argv = [SWITCHYARD, "simulate-app", "--system", system.value]
            argv += ["--port", url.rpartition(":")[2]]
            name = f"e2e-app-{system.value}"
            proc = await stack.enter_async_context(child(argv, env=own, name=name))
            ready.append((f"{url}/_deliveries", proc, name))
        proc = await stack.enter_async_context(
            child([SWITCHYARD, "serve"], env=own, name="e2e-apps-service")
        )
        ready.append((f"{service_url}/readyz", proc, "e2e-apps-service"))
        worker = await stack.enter_async_context(
            child([SWITCHYARD, "worker", "--consumer", "apps-1"], env=own, name="e2e-apps-worker")
        )
        for url, started, name in ready:
            await wait_ready(url, started, name=name)
        log = log_dir() / "e2e-apps-worker.log"
        deadline = time.monotonic() + 60
        while "consuming" not in log.read_text(errors="replace"):
            if worker.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start: {log.read_text()[-2000:]}")
            await asyncio.sleep(0.1)
        yield service_url, app_urls


class _Apps:
    """Posts each event to both Apps' hooks; reads what the Apps received."""

    def __init__(self, service_url: str, app_urls: dict[System, str], secrets: dict[System, str]):
        self._targets = {s: RawTarget(f"{service_url}/webhooks/github/{s}") for s in System}
        self._secrets = {s: Secret(v) for s, v in secrets.items()}
        self._app_urls = app_urls
        self.accepted: dict[str, float] = {}  # typescript delivery id -> when the 202 came back

    async def post(self, number: int, run: str) -> None:
        body = issue_delivery(number)
        for system in System:
            delivery_id = f"{run}-{system.value}-{number}"
            headers = delivery_headers(
                event="issues", delivery_id=delivery_id, signature=sign(self._secrets[system], body)
            )
            status = await self._targets[system].send(headers, body)
            if status != "202":
                raise RuntimeError(f"delivery {delivery_id} answered {status}")
            if system is System.TYPESCRIPT:
                self.accepted[delivery_id] = time.time()

    async def received(self, http: httpx.AsyncClient, system: System) -> dict[str, float]:
        rows = (await http.get(f"{self._app_urls[system]}/_deliveries")).json()
        return {row["delivery_id"]: row["received_at"] for row in rows}

    async def until(self, http: httpx.AsyncClient, count: int) -> dict[str, float]:
        deadline = time.monotonic() + _DONE_WITHIN
        while len(got := await self.received(http, System.TYPESCRIPT)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(got)} of {count} forwards after {_DONE_WITHIN:g} s")
            await asyncio.sleep(0.1)
        return got

    async def aclose(self) -> None:
        for target in self._targets.values():
            await target.aclose()


async def measure_apps(env: dict[str, str], *, events: int) -> dict[str, Any]:
    prefix = unique_prefix("e2e-apps")
    settings = settings_for(env, SWITCHYARD_REDIS_PREFIX=prefix)
    secrets = {system: f"bench-{system}-{uuid.uuid4().hex}" for system in System}
    run = uuid.uuid4().hex[:8]
    try:
        async with _gated(env, prefix, secrets) as (service_url, app_urls):
            apps = _Apps(service_url, app_urls, secrets)
            try:
                async with httpx.AsyncClient(timeout=10) as http:
                    for number in range(1, WARMUP + 1):
                        await apps.post(number, run)
                    await apps.until(http, WARMUP)
                    numbers = list(range(WARMUP + 1, WARMUP + events + 1))
                    start = time.time()

                    async def sender() -> None:
                        while numbers:
                            await apps.post(numbers.pop(), run)

                    await asyncio.gather(*(sender() for _ in range(SENDERS)))
                    got = await apps.until(http, WARMUP + events)
                    last = max(got.values())
                    pace = min(MAX_PACE_PER_S, events / (last - start) / 2)
                    apps.accepted.clear()
                    first_paced = WARMUP + events + 1
                    for number in range(first_paced, first_paced + PACED_EVENTS):
                        await apps.post(number, run)
                        await asyncio.sleep(1 / pace)
                    got = await apps.until(http, WARMUP + events + PACED_EVENTS)
                    python_got = await apps.received(http, System.PYTHON)
            finally:
                await apps.aclose()
    finally:
        await delete_prefix(settings.redis_url, prefix)
    if python_got:
        raise RuntimeError(
            f"the python App got {len(python_got)} deliveries of typescript's issues"
        )
    added = [got[delivery] - accepted for delivery, accepted in apps.accepted.items()]
    rate = events / (last - start)
    result = {
        "events": events,
        "forwarded_per_s": rate,
        "gate_latency_p50_s": percentile(added, 50),
        "gate_latency_p95_s": percentile(added, 95),
        "paced_events": PACED_EVENTS,
        "paced_per_s": round(pace, 2),
    }
    print(
        f"e2e github-app gate, 1 worker: {rate:7.1f} forwarded deliveries/s ({events} events, "
        f"2 Apps' copies each); 202 -> App receipt at {pace:.1f}/s: p50 "
        f"{result['gate_latency_p50_s'] * 1000:.1f} ms, p95 "
        f"{result['gate_latency_p95_s'] * 1000:.1f} ms",
        flush=True,
    )
    return result
