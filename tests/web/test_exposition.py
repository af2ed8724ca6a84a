"""The live ``/metrics`` is valid Prometheus (``promtool check metrics``) and exposes every
series the alert rules and the Grafana dashboard read; 5xx answers to GitHub are counted."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flags.admin_api import UnleashAdmin
from flags.model import System
from service.health.monitor import monitor_for
from service.migration.control import MigrationControl
from service.watchdog.loop import Watchdog, WatchdogConfig
from service.web.intake_errors import IntakeErrorCounter
from tests.conftest import InProcessService, record_completion
from tests.test_deploy import alert_metric_names, dashboard_metric_names


def _exposed(text: str) -> set[str]:
    """Metric names a scrape yields, with counters' ``_total`` and histograms' suffixes."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "counter":
                names.add(f"{name}_total")
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


@pytest.mark.integration
async def test_live_metrics_pass_promtool_and_cover_alerts_and_dashboard(
    edge: InProcessService, flags_reset: UnleashAdmin, http: httpx.AsyncClient
) -> None:
    runtime = edge.runtime
    await record_completion(runtime.redis, runtime.prefix, System.PYTHON, 1, True, 3.0)
    await monitor_for(runtime).check()
    watchdog = Watchdog(
        redis=runtime.redis,
        http=http,
        control=MigrationControl(admin=flags_reset, redis=runtime.redis, prefix=runtime.prefix),
        prefix=runtime.prefix,
        config=WatchdogConfig(name="exposition", dry_run=True),
    )
    assert await watchdog.tick() is not None
    scrape = await edge.client.get("/metrics")
    assert scrape.status_code == 200
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool missing: Debian's prometheus package (make deps)"
    checker = await asyncio.create_subprocess_exec(
        promtool,
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(checker.communicate(scrape.content), timeout=60)
    assert checker.returncode == 0, output.decode()
    exposed = _exposed(scrape.text)
    assert alert_metric_names() <= exposed, alert_metric_names() - exposed
    assert dashboard_metric_names() <= exposed, dashboard_metric_names() - exposed


async def test_intake_5xx_answers_and_escaped_errors_are_counted_not_4xx() -> None:
    async def refused(request: Request) -> JSONResponse:
        return JSONResponse({"error": "x"}, status_code=int(request.query_params["code"]))

    async def broken(request: Request) -> JSONResponse:
        raise RuntimeError("boom")

    counts: Counter[int] = Counter()
    app = Starlette(
        routes=[
            Route("/webhooks/github", refused, methods=["POST"]),
            Route("/webhooks/broken", broken, methods=["POST"]),
            Route("/other", refused, methods=["POST"]),
        ],
        middleware=[Middleware(IntakeErrorCounter, counts=counts)],
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for code in (202, 401, 503, 503, 500):
            await client.post(f"/webhooks/github?code={code}")
        await client.post("/other?code=503")
        assert (await client.post("/webhooks/broken")).status_code == 500
    assert counts == Counter({503: 2, 500: 2})
