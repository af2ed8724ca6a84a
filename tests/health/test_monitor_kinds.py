"""Health of agent systems by kind: a job API's /health, a GitHub App's endpoint answering."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from flags.model import System
from flags.secret import Secret
from service.devtools.app_receiver import create_app_receiver
from service.devtools.child_processes import free_port
from service.health.monitor import monitor_for, probe_http
from service.runtime import open_runtime
from service.settings import Settings
from service.system_kinds import AgentKind, SystemSettings
from tests.devtools.test_simulator import serve


@pytest.fixture
async def app_url() -> AsyncIterator[str]:
    async with serve(create_app_receiver(secret=Secret("s"))) as url:
        yield url


async def test_an_apps_endpoint_is_healthy_when_it_answers_below_500(app_url: str) -> None:
    async with httpx.AsyncClient() as http:
        up = await probe_http(http, f"{app_url}/", reachable_only=True)  # GET / is 405
        down = await probe_http(http, f"http://127.0.0.1:{free_port()}/", reachable_only=True)
        job_api = await probe_http(http, app_url)  # no /health there: a job API would be down
    assert (up["healthy"], down["healthy"], job_api["healthy"]) == (True, False, False)


@pytest.mark.integration
async def test_the_monitor_probes_each_system_by_its_kind(
    settings: Settings, prefix: str, app_url: str
) -> None:
    systems = {
        System.TYPESCRIPT: SystemSettings(
            system=System.TYPESCRIPT, kind=AgentKind.GITHUB_APP, webhook_url=f"{app_url}/"
        ),
        System.PYTHON: SystemSettings(
            system=System.PYTHON, kind=AgentKind.GITHUB_LABEL, trigger="fix-me"
        ),
    }
    own = dataclasses.replace(
        settings, redis_prefix=prefix, systems=systems, python_url="http://127.0.0.1:9"
    )
    async with open_runtime(own, role="test") as runtime:
        checks = await monitor_for(runtime).probe()
    assert checks["typescript"]["healthy"] is True
    assert checks["python"] == {"healthy": None, "detail": "not configured"}
