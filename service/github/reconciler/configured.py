"""The reconciler a process's settings describe: every hook it may reconcile, with its client.

* Switchyard's own hooks, ``SWITCHYARD_GITHUB_HOOKS``, through one client with
  ``SWITCHYARD_GITHUB_TOKEN`` or the App credentials (``SWITCHYARD_GITHUB_APP_ID``, ...);
* the own webhook of each ``github-app`` system whose App is named
  (``SWITCHYARD_<SYSTEM>_APP_ID`` and its private key), as ``app:<system>``, through a client
  holding that App's credentials (each App's JWT has its own rate limit).

All go to ``SWITCHYARD_GITHUB_API_URL``. With no hook at all:
:class:`~service.errors.SettingsError`.
"""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from service.errors import SettingsError
from service.github.api.auth import AppCredentials, Credentials
from service.github.api.client import GitHubClient
from service.github.api.hooks import HookRef
from service.github.reconciler.run import Reconciler
from service.settings import Settings
from service.system_kinds import AgentKind

__all__ = ["configured_reconciler", "gated_app_hooks"]


def _gated_apps(settings: Settings) -> dict[str, AppCredentials]:
    """System name -> its App, for the ``github-app`` systems whose App is named."""
    return {
        system.value: conf.app
        for system, conf in settings.systems.items()
        if conf.kind is AgentKind.GITHUB_APP and conf.app is not None
    }


def gated_app_hooks(settings: Settings) -> list[HookRef]:
    """The hooks of the gated Apps whose credentials are configured, one per system."""
    return [HookRef.gated_app(system) for system in _gated_apps(settings)]


def configured_reconciler(
    settings: Settings, *, http: httpx.AsyncClient, redis: Redis
) -> Reconciler:
    apps = _gated_apps(settings)
    if not settings.github_hooks and not apps:
        raise SettingsError(
            "SWITCHYARD_GITHUB_HOOKS",
            "is empty and no github-app system names its App (SWITCHYARD_<SYSTEM>_APP_ID): "
            "no webhook to reconcile",
        )

    def client(credentials: Credentials | None) -> GitHubClient:
        return GitHubClient(http=http, credentials=credentials, base_url=settings.github_api_url)

    return Reconciler(
        client=client(settings.github_credentials),
        redis=redis,
        prefix=settings.redis_prefix,
        hooks=[*settings.github_hooks, *gated_app_hooks(settings)],
        app_clients={system: client(app) for system, app in apps.items()},
    )
