"""Session fixtures: the real stack (started if it is not running) and isolated settings.

Isolation: every test session gets its own Redis key prefix and flag cache directory; tests
that change flags in Unleash reset them to the provisioned defaults first (``flags_reset``),
so the suite passes on a stack an earlier run (or a demo) left in any state.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.types import Message, Scope

from flags.admin_api import UnleashAdmin
from flags.model import Issue, System
from flags.provision import provision
from service.agents.completion import Completion
from service.app import create_app
from service.devtools import stack
from service.devtools.child_processes import free_port
from service.devtools.redis_prefix import delete_prefix
from service.keys import Keys
from service.outcomes.recorder import OutcomeRecorder
from service.pipeline.jobs import Job, JobState, job_id_for
from service.runtime import Runtime, open_runtime, unleash_admin
from service.settings import Settings
from tests import stack_lock

if TYPE_CHECKING:
    from playwright.async_api import Browser

    from tests.browser import Tab

REPO = Path(__file__).resolve().parent.parent

# Hypothesis: the `ci` profile (the default; HYPOTHESIS_PROFILE picks another) keeps Hypothesis's
# 100 examples for properties that do not set their own count (those that call the app set
# 25-60), and drops the two checks that time the machine rather than the code: the 200 ms
# per-example deadline and the "too slow" health check both fail on a loaded 2-core machine.
hypothesis_settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile("thorough", max_examples=1000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    config = stack.StackConfig.from_env(os.environ, repo=REPO)
    env = stack.up(config)
    stack_lock.share(config.root)  # see tests/stack_lock.py
    return env


@pytest.fixture(scope="session")
def settings(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.from_env(
        {
            **stack_env,
            "SWITCHYARD_REDIS_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
            "SWITCHYARD_FLAG_CACHE_DIR": str(tmp_path_factory.mktemp("flag-cache")),
            "SWITCHYARD_FLAG_REFRESH_SECONDS": "1",
        }
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def admin(settings: Settings, http: httpx.AsyncClient) -> UnleashAdmin:
    return unleash_admin(settings, http)


@pytest.fixture
async def flags_reset(admin: UnleashAdmin, settings: Settings) -> AsyncIterator[UnleashAdmin]:
    """Flags at their provisioned defaults before and after the test."""
    secret = settings.require_unleash_events_secret()
    await provision(admin, service_url=settings.service_url, events_secret=secret, reset=True)
    yield admin
    await provision(admin, service_url=settings.service_url, events_secret=secret, reset=True)


@pytest.fixture
async def redis_client(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(settings: Settings, redis_client: Redis) -> AsyncIterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    own = Keys(settings.redis_prefix).scoped(uuid.uuid4().hex[:10]).prefix
    yield own
    await delete_prefix(redis_client, own)


@dataclasses.dataclass
class RunningService:
    settings: Settings
    url: str
    app: Starlette

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime


@contextlib.asynccontextmanager
async def serve_app(settings: Settings, port: int) -> AsyncIterator[RunningService]:
    """The real Starlette app under a real uvicorn on ``port`` (loopback)."""
    own = dataclasses.replace(settings, service_url=f"http://127.0.0.1:{port}", port=port)
    app = create_app(own)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get(f"{own.service_url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"the service did not start on port {port}")
        yield RunningService(own, own.service_url, app)
    finally:
        server.should_exit = True
        await task


@dataclasses.dataclass
class InProcessService(RunningService):
    """The real app, called in-process through httpx's ``ASGITransport`` (no port, no
    uvicorn), on a runtime of its own over the real Redis and Unleash. ``client`` answers
    exactly what the app answers: a 500 is a response, not an exception in the test."""

    client: httpx.AsyncClient


async def raw_asgi_post(
    app: Starlette, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, Any], int]:
    """POST to ``app`` with a body that never comes: (status, JSON answer, times the app asked
    for the body). For headers httpx would not send as given (a lying ``Content-Length``)."""
    asked = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal asked
        asked += 1
        await asyncio.Event().wait()  # the promised body never arrives
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    [start] = [m for m in sent if m["type"] == "http.response.start"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), json.loads(body), asked


@pytest.fixture
async def edge(settings: Settings, prefix: str) -> AsyncIterator[InProcessService]:
    """The app in-process with this test's own Redis prefix: for tests of the HTTP edge."""
    own = dataclasses.replace(settings, redis_prefix=prefix)
    async with open_runtime(own, role="service") as runtime:
        app = create_app(own, runtime=runtime)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url=own.service_url, timeout=10
        ) as client:
            yield InProcessService(own, own.service_url, app, client)


@pytest.fixture
async def service(settings: Settings, prefix: str) -> AsyncIterator[RunningService]:
    """The service on a free port, with this test's own Redis prefix."""
    async with serve_app(dataclasses.replace(settings, redis_prefix=prefix), free_port()) as app:
        yield app


async def record_completion(
    redis: Redis, prefix: str, system: System, number: int, success: bool, duration: float = 30.0
) -> None:
    """Record an acting job's completion for issue ``acme/app#number``, as a callback would."""
    job = Job(
        job_id=job_id_for(f"d{number}", system, dry_run=False),
        delivery_id=f"d{number}",
        issue=Issue("acme/app", number),
        system=system,
        dry_run=False,
        state=JobState.DISPATCHED,
    )
    await OutcomeRecorder(redis, prefix=prefix).completion_once(
        job, Completion(job.job_id, number, success, duration, False)
    )


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium per test module (the dashboard's tests)."""
    from tests.browser import launch_chromium  # imports this module: not at the top

    async with launch_chromium() as launched:
        yield launched


@pytest.fixture
async def tab(browser: Browser) -> AsyncIterator[Tab]:
    """A fresh browser context and page for one test."""
    from tests.browser import open_tab

    async with open_tab(browser) as opened:
        yield opened
