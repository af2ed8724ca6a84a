"""Session fixtures: the real stack (started if it is not running) and isolated settings.

Isolation: every test session gets its own Redis key prefix and flag cache directory; tests
that change flags in Unleash reset them to the provisioned defaults first (``flags_reset``),
so the suite passes on a stack an earlier run (or a demo) left in any state.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.provision import provision
from service import stack
from service.settings import Settings

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    config = stack.StackConfig.from_env(os.environ, repo=REPO)
    return stack.up(config)


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
    return UnleashAdmin(
        base_url=settings.unleash_url,
        token=settings.require_admin_token(),
        project=settings.unleash_project,
        environment=settings.unleash_environment,
        http=http,
    )


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
    own = f"{settings.redis_prefix}:{uuid.uuid4().hex[:10]}"
    yield own
    keys = [key async for key in redis_client.scan_iter(match=f"{own}:*", count=1000)]
    if keys:
        await redis_client.delete(*keys)
