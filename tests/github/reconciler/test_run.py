"""The reconciler against the GitHub stand-in and the real service on the real Redis."""

from __future__ import annotations

import dataclasses
from collections import Counter

import httpx
import pytest
from redis.asyncio import Redis

from flags.secret import Secret
from service.devtools.child_processes import free_port
from service.devtools.github_standin import Standin
from service.devtools.webhook_sender import issue_delivery
from service.github.api import GitHubClient
from service.github.api.hooks import parse_hook
from service.github.reconciler import Reconciler
from service.pipeline.stream import EventStream
from service.settings import Settings
from tests.auth import viewer_bearer
from tests.conftest import serve_app
from tests.standin import (
    FakeTime,
    app_credentials,
    github_client,
    running_standin,
)

pytestmark = pytest.mark.integration

REPO_HOOK = parse_hook("repos/acme/app/hooks/123")
APP_HOOK = parse_hook("app")
DEAD = "http://127.0.0.1:9/webhooks/github"
HOOK_SECRET = Secret("hook-secret")


async def _send(standin: Standin, spec: str, number: int) -> str:
    delivery = issue_delivery(repository="acme/app", number=number)
    attempt = await standin.deliveries.send(spec, event="issues", payload=delivery.body)
    return attempt.guid


def _successes(standin: Standin) -> Counter[str]:
    return Counter(
        a.guid
        for hook in standin.deliveries.hooks.values()
        for a in hook.attempts
        if a.status == "OK"
    )


async def test_deliveries_sent_while_the_service_was_down_arrive_exactly_once(
    settings: Settings, prefix: str, redis_client: Redis
) -> None:
    port = free_port()
    own = dataclasses.replace(settings, redis_prefix=prefix)
    receiver = f"http://127.0.0.1:{port}/webhooks/github"
    secret = settings.require_webhook_secret()
    async with running_standin() as (standin, api):
        for hook in (REPO_HOOK, APP_HOOK):
            standin.deliveries.add_hook(hook, url=receiver, secret=secret, app_id=4242)
        async with serve_app(own, port):
            before = [await _send(standin, REPO_HOOK.spec, n) for n in range(1, 6)]
        down = [await _send(standin, REPO_HOOK.spec, n) for n in range(6, 12)]
        down += [await _send(standin, APP_HOOK.spec, n) for n in range(12, 14)]
        assert not _successes(standin).keys() & set(down)
        async with serve_app(own, port):
            after = [await _send(standin, REPO_HOOK.spec, n) for n in range(14, 18)]
            reconciler = Reconciler(
                client=github_client(api, app_credentials()),
                redis=redis_client,
                prefix=prefix,
                hooks=[REPO_HOOK, APP_HOOK],
            )
            first = await reconciler.run()
            second = await reconciler.run()
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=viewer_bearer(own)
            ) as web:
                metrics = (await web.get("/metrics")).text
                panels = (await web.get("/migration/dashboard/panels")).text
                status = (await web.get("/migration/status")).json()

    everything = before + down + after
    assert first.complete
    assert sorted(g for h in first.hooks for g in h.redelivered) == sorted(down)
    assert [len(h.gap) for h in first.hooks] == [6, 2]
    assert [h.redelivered for h in second.hooks] == [[], []]
    assert [h.failed for h in second.hooks] == [0, 0]
    stream = EventStream(redis_client, prefix=prefix)
    assert await stream.stored(everything) == set(everything)
    assert await redis_client.xlen(stream.key) == len(everything)  # each stored once
    assert _successes(standin) == Counter(everything)  # each arrived once, none twice
    totals = await reconciler.ledger.totals()
    assert (totals["gap_found"], totals["redelivered"], totals["runs"]) == (8, 8, 2)
    last = await reconciler.ledger.last_report()
    assert last is not None and last["redelivered"] == 0
    assert status["reconciler"]["counts"]["redelivered"] == 8
    assert 'switchyard_reconciler_events_total{outcome="gap_found"} 8.0' in metrics
    assert 'switchyard_reconciler_events_total{outcome="redelivered"} 8.0' in metrics
    assert "switchyard_reconciler_last_run_complete 1.0" in metrics
    assert "GitHub deliveries" in panels
    assert "repos/acme/app/hooks/123" in panels


async def test_what_switchyard_stored_is_not_redelivered_and_a_dry_run_changes_nothing(
    prefix: str, redis_client: Redis
) -> None:
    async with running_standin() as (standin, api):
        standin.deliveries.add_hook(REPO_HOOK, url=DEAD, secret=HOOK_SECRET)
        stored, missing = (
            await _send(standin, REPO_HOOK.spec, 1),
            await _send(standin, REPO_HOOK.spec, 2),
        )
        stream = EventStream(redis_client, prefix=prefix)
        await stream.append(delivery_id=stored, event="issues", body=b"{}")  # GitHub timed out
        reconciler = Reconciler(
            client=github_client(api, app_credentials()),
            redis=redis_client,
            prefix=prefix,
            hooks=[REPO_HOOK],
        )
        report = await reconciler.run(dry_run=True)
        (hook,) = report.hooks
        assert (hook.failed, hook.already_stored, hook.gap) == (2, 1, [missing])
        assert hook.redelivered == []
        assert len(standin.deliveries.hooks[REPO_HOOK.spec].attempts) == 2
        assert await reconciler.ledger.totals() == dict.fromkeys(
            ("gap_found", "redelivered", "already_stored", "refused", "interrupted", "runs"), 0
        )
        assert await reconciler.ledger.last_report() is None


async def test_a_422_stops_the_hook_and_a_later_run_goes_on(
    prefix: str, redis_client: Redis
) -> None:
    clock = FakeTime()
    async with running_standin(clock=clock) as (standin, api):
        standin.deliveries.add_hook(REPO_HOOK, url=DEAD, secret=HOOK_SECRET)
        standin.deliveries.redelivery_limit = 2
        guids = [await _send(standin, REPO_HOOK.spec, n) for n in range(5)]
        reconciler = Reconciler(
            client=github_client(api, app_credentials(), clock=clock),
            redis=redis_client,
            prefix=prefix,
            hooks=[REPO_HOOK],
            clock=clock,
        )
        first = await reconciler.run()
        assert not first.complete
        assert first.hooks[0].redelivered == guids[:2]
        assert "422" in (first.hooks[0].stopped or "")
        assert await reconciler.ledger.last_complete(REPO_HOOK.spec) is None
        clock.advance(61)
        second = await reconciler.run()  # the first two are being redelivered (claimed)
        assert second.hooks[0].in_flight == 2
        assert second.hooks[0].redelivered == guids[2:4]
        totals = await reconciler.ledger.totals()
        assert (totals["gap_found"], totals["redelivered"], totals["refused"]) == (5, 4, 2)


async def test_rate_limits_are_waited_out_during_a_run(prefix: str, redis_client: Redis) -> None:
    clock = FakeTime()
    async with running_standin(clock=clock) as (standin, api):
        standin.deliveries.add_hook(REPO_HOOK, url=DEAD, secret=HOOK_SECRET)
        guid = await _send(standin, REPO_HOOK.spec, 1)
        standin.limits.settings.force_secondary = 2
        reconciler = Reconciler(
            client=github_client(api, app_credentials(), clock=clock),
            redis=redis_client,
            prefix=prefix,
            hooks=[REPO_HOOK],
            clock=clock,
        )
        report = await reconciler.run()
        assert report.complete
        assert report.hooks[0].redelivered == [guid]
        assert clock.sleeps == [60.0, 60.0]


async def test_github_unreachable_stops_the_hook_without_losing_the_watermark(
    prefix: str, redis_client: Redis
) -> None:
    async with httpx.AsyncClient() as http:
        client = GitHubClient(http=http, credentials=None, base_url="http://127.0.0.1:9")
        reconciler = Reconciler(client=client, redis=redis_client, prefix=prefix, hooks=[REPO_HOOK])
        report = await reconciler.run()
    assert not report.complete
    assert "unreachable" in (report.hooks[0].stopped or "")
    assert await reconciler.ledger.last_complete(REPO_HOOK.spec) is None
    assert (await reconciler.ledger.totals())["interrupted"] == 1
