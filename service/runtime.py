"""The resources one Switchyard process holds, opened and closed together.

The web service, the worker and the watchdog all need the same things: Redis, an HTTP client,
the flag provider (with its OpenFeature domain) and the listener that refetches flags when a
change is broadcast. :func:`open_runtime` opens them in order and closes them in reverse.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from redis.asyncio import BlockingConnectionPool, Redis

from flags.admin_api import UnleashAdmin
from flags.provider import UnleashFlagProvider
from flags.source import FlagSource
from service.keys import Keys
from service.migration.propagation import FlagChangeListener
from service.settings import Settings

__all__ = ["Runtime", "open_runtime", "unleash_admin"]


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    http: httpx.AsyncClient
    provider: UnleashFlagProvider
    flags: FlagSource
    listener: FlagChangeListener

    @property
    def prefix(self) -> str:
        return self.settings.redis_prefix

    @property
    def keys(self) -> Keys:
        return Keys(self.settings.redis_prefix)

    def admin(self) -> UnleashAdmin:
        return unleash_admin(self.settings, self.http)


def unleash_admin(settings: Settings, http: httpx.AsyncClient) -> UnleashAdmin:
    """The admin API client these settings describe (needs ``UNLEASH_ADMIN_TOKEN``)."""
    return UnleashAdmin(
        base_url=settings.unleash_url,
        token=settings.require_admin_token(),
        project=settings.unleash_project,
        environment=settings.unleash_environment,
        http=http,
    )


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, *, role: str) -> AsyncIterator[Runtime]:
    # A burst of webhooks waits for a free connection rather than failing with 503.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url, decode_responses=True, max_connections=200, timeout=5
    )
    redis = Redis.from_pool(pool)  # owns the pool: aclose() closes it
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0))
    provider = UnleashFlagProvider(
        url=settings.unleash_url,
        client_token=settings.unleash_client_token,
        app_name=f"{settings.instance}-{role}",
        environment=settings.unleash_environment,
        refresh_seconds=settings.flag_refresh_seconds,
        cache_dir=settings.flag_cache_dir,
        http=http,
    )
    flags: FlagSource | None = None
    listener = FlagChangeListener(redis, prefix=settings.redis_prefix, refresh=provider.refresh)
    try:
        await provider.start()
        flags = FlagSource(provider)
        await listener.start()
        yield Runtime(settings, redis, http, provider, flags, listener)
    finally:
        await listener.stop()
        if flags is not None:
            flags.close()
        await provider.aclose()
        await http.aclose()
        await redis.aclose()
