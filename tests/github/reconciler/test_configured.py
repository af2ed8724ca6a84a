"""Gated Apps' own webhooks reconciled: each App's deliveries listed with its own JWT from the
GitHub stand-in, what the service missed redelivered to ``/webhooks/github/{system}``; the real
service and Redis."""

from __future__ import annotations

import dataclasses
from collections import Counter

import httpx
import pytest
from redis.asyncio import Redis

from flags.model import System
from flags.secret import Secret
from service.devtools.child_processes import free_port
from service.devtools.github_standin import Standin
from service.devtools.webhook_sender import issue_delivery
from service.errors import SettingsError
from service.github.api import AppCredentials
from service.github.api.hooks import HookRef
from service.github.reconciler.configured import configured_reconciler, gated_app_hooks
from service.pipeline.stream import EventStream
from service.settings import Settings
from service.system_kinds import AgentKind, SystemSettings
from tests.auth import viewer_bearer
from tests.conftest import serve_app
from tests.standin import API_URL, app_key, running_standin

APP_IDS = {System.TYPESCRIPT: "101", System.PYTHON: "202"}
SECRETS = {System.TYPESCRIPT: Secret("legacy-app-secret"), System.PYTHON: Secret("new-app-secret")}
DEAD = "http://127.0.0.1:9"


def _gated(settings: Settings, *, prefix: str, receiver: str = DEAD) -> Settings:
    """Both systems GitHub Apps gated by Switchyard, each naming its App; nothing else to
    reconcile (no SWITCHYARD_GITHUB_HOOKS, no token)."""
    systems = {
        system: SystemSettings(
            system=system,
            kind=AgentKind.GITHUB_APP,
            webhook_secret=SECRETS[system],
            webhook_url=f"{receiver}/app/{system}",
            app=AppCredentials(
                app_id=APP_IDS[system], private_key=Secret(app_key(system.value).private_pem)
            ),
        )
        for system in System
    }
    return dataclasses.replace(
        settings,
        redis_prefix=prefix,
        systems=systems,
        github_api_url=API_URL,
        github_hooks=(),
        github_credentials=None,
    )


def _apps() -> dict[str, str]:
    return {APP_IDS[system]: app_key(system.value).public_pem for system in System}


def _add_hooks(standin: Standin, url: str) -> None:
    for system in System:
        standin.deliveries.add_hook(
            HookRef.gated_app(system.value),
            url=f"{url}/webhooks/github/{system}",
            secret=SECRETS[system],
            app_id=int(APP_IDS[system]),
        )


async def _send(standin: Standin, system: System, number: int) -> str:
    body = issue_delivery(repository="acme/app", number=number).body
    attempt = await standin.deliveries.send(f"app:{system}", event="issues", payload=body)
    return attempt.guid


@pytest.mark.integration
async def test_each_gated_apps_missed_deliveries_are_redelivered_once_with_its_own_cursor(
    settings: Settings, prefix: str, redis_client: Redis
) -> None:
    port = free_port()
    own = _gated(settings, prefix=prefix)
    async with running_standin(apps=_apps()) as (standin, api):
        _add_hooks(standin, f"http://127.0.0.1:{port}")
        sent: dict[System, list[str]] = {system: [] for system in System}
        async with serve_app(own, port):
            for system in System:
                sent[system].append(await _send(standin, system, 1))
        down = {System.TYPESCRIPT: [2, 3, 4], System.PYTHON: [5, 6]}  # the service is down
        for system, numbers in down.items():
            sent[system] += [await _send(standin, system, n) for n in numbers]
        async with serve_app(own, port):
            reconciler = configured_reconciler(own, http=api, redis=redis_client)
            first = await reconciler.run()
            second = await reconciler.run()
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=viewer_bearer(own)
            ) as web:
                metrics = (await web.get("/metrics")).text
                panels = (await web.get("/migration/dashboard/panels")).text

    assert [h.hook for h in first.hooks] == ["app:typescript", "app:python"]
    assert [len(h.redelivered) for h in first.hooks] == [3, 2]
    assert first.complete and [h.redelivered for h in second.hooks] == [[], []]
    stream = EventStream(redis_client, prefix=prefix)
    for system, guids in sent.items():
        assert await stream.stored(guids, hook=str(system)) == set(guids)
        assert await stream.stored(guids) == set()  # not Switchyard's own hook
    assert await redis_client.xlen(stream.key) == 7  # each stored once
    taken = Counter(
        a.guid
        for hook in standin.deliveries.hooks.values()
        for a in hook.attempts
        if a.status == "OK"
    )
    assert taken == Counter(g for guids in sent.values() for g in guids)  # none twice
    for hook in ("app:typescript", "app:python"):
        assert await reconciler.ledger.last_complete(hook) == second.started
    assert 'switchyard_reconciler_hook_gap{hook="app:python"} 0.0' in metrics
    assert 'switchyard_reconciler_hook_reconciled_timestamp_seconds{hook="app:typescript"}' in (
        metrics
    )
    assert "app:typescript" in panels and "app:python" in panels


@pytest.mark.integration
async def test_a_422_on_one_apps_hook_leaves_the_other_app_reconciled(
    settings: Settings, prefix: str, redis_client: Redis
) -> None:
    async with running_standin(apps=_apps()) as (standin, api):
        _add_hooks(standin, DEAD)
        standin.deliveries.redelivery_limit = 1
        legacy = [await _send(standin, System.TYPESCRIPT, n) for n in (1, 2)]
        new = await _send(standin, System.PYTHON, 3)
        reconciler = configured_reconciler(
            _gated(settings, prefix=prefix), http=api, redis=redis_client
        )
        report = await reconciler.run()
    legacy_hook, new_hook = report.hooks
    assert legacy_hook.redelivered == legacy[:1] and "422" in (legacy_hook.stopped or "")
    assert new_hook.redelivered == [new] and new_hook.complete
    assert await reconciler.ledger.last_complete("app:typescript") is None
    assert await reconciler.ledger.last_complete("app:python") == report.started


async def test_only_gated_apps_that_name_their_app_are_reconciled() -> None:
    plain = Settings.from_env(
        {"UNLEASH_URL": DEAD, "UNLEASH_CLIENT_TOKEN": "t", "REDIS_URL": "redis://127.0.0.1:9/0"}
    )
    gated = _gated(plain, prefix="unused")
    assert [h.spec for h in gated_app_hooks(gated)] == ["app:typescript", "app:python"]
    one = dict(gated.systems)
    one[System.TYPESCRIPT] = dataclasses.replace(one[System.TYPESCRIPT], app=None)
    assert [h.spec for h in gated_app_hooks(dataclasses.replace(gated, systems=one))] == [
        "app:python"
    ]
    async with httpx.AsyncClient() as http:
        redis = Redis.from_url(plain.redis_url)
        with pytest.raises(SettingsError, match="SWITCHYARD_GITHUB_HOOKS"):
            configured_reconciler(plain, http=http, redis=redis)
        await redis.aclose()
