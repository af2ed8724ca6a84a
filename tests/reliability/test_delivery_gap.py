"""Switchyard is stopped for a minute while GitHub (the stand-in) keeps sending, then
reconciled: every delivery GitHub failed to make is redelivered by ``switchyard deliveries
reconcile`` and dispatched once; nothing is lost, nothing arrives twice.

The outage is a real minute: the service stops, GitHub sends one delivery a second for 60 s
(each recorded at the stand-in as a failed delivery, "failed to connect to host"), and the
service starts again on the same port only after the minute. GitHub here is the stand-in over
real HTTP; the reconciler is the CLI process, run twice (the second finds nothing); a worker
and the agents are processes. Everything is this test's own (its Redis prefix, its service on
a free port, its worker and agents), and the flags are left as they are: the ledger's counts
hold whichever system acts, so the case does not need the stack to itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from flags.model import System
from flags.secret import Secret
from service.devtools.child_processes import free_port
from service.devtools.github_standin import Standin
from service.github.api.hooks import parse_hook
from service.pipeline.stream import EventStream
from service.settings import Settings
from tests.conftest import serve_app
from tests.pipeline.test_worker import Sims
from tests.processes import run_cli
from tests.reliability.ledger import GitHub, assert_clean, report, settle
from tests.reliability.scenario import workers
from tests.standin import TOKEN, serve_standin_http

pytestmark = pytest.mark.integration

CASE = "delivery_gap"
OUTAGE_SECONDS = 60.0
PACE_SECONDS = 1.0  # GitHub's steady pace while Switchyard is down: 60 failed deliveries
AROUND = 5  # deliveries taken before the outage, and after it
HOOK = parse_hook("repos/acme/reliability/hooks/1")


async def test_switchyard_down_while_github_sends_then_reconciled_loses_nothing(
    settings: Settings,
    agents: Sims,
    env: dict[str, str],
    redis_client: Redis,
    prefix: str,
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    own = dataclasses.replace(settings, redis_prefix=prefix, service_url=url, port=port)
    secret = own.require_webhook_secret()
    worker_env = {
        **env,
        "SWITCHYARD_URL": url,
        **{f"SWITCHYARD_{system.name}_URL": agents.urls[system] for system in System},
    }
    async with httpx.AsyncClient(timeout=10) as http:
        github = GitHub([url], secret, http)
        standin = Standin.build(http=http, tokens=[Secret(TOKEN)])
        standin.deliveries.add_hook(HOOK, url=f"{url}/webhooks/github", secret=secret)
        numbers = iter(range(1, 10_000))

        async def send() -> str:
            delivery = github.issue_event(next(numbers))
            github.sent[delivery.delivery_id] = delivery
            attempt = await standin.deliveries.send(
                HOOK.spec, event="issues", payload=delivery.body, guid=delivery.delivery_id
            )
            return attempt.status

        reconcile_env = {
            **worker_env,
            "SWITCHYARD_GITHUB_TOKEN": TOKEN,
            "SWITCHYARD_GITHUB_HOOKS": HOOK.spec,
        }
        async with (
            serve_standin_http(standin) as api_url,
            workers("G1", env=worker_env, logs=tmp_path),
        ):
            reconcile_env["SWITCHYARD_GITHUB_API_URL"] = api_url
            async with serve_app(own, port):
                before = [await send() for _ in range(AROUND)]
                github.accepted.update(github.sent)
                await settle(github, agents, redis_client, prefix)
            outage: list[str] = []  # Switchyard is down for OUTAGE_SECONDS
            stopped = time.monotonic()
            for tick in range(int(OUTAGE_SECONDS / PACE_SECONDS)):
                await _until(stopped + (tick + 0.5) * PACE_SECONDS)
                outage.append(await send())
            await _until(stopped + OUTAGE_SECONDS)
            down_for = time.monotonic() - stopped
            async with serve_app(own, port):
                after = [await send() for _ in range(AROUND)]
                first = (
                    await run_cli("deliveries", "reconcile", "--json", env=reconcile_env)
                ).json()
                second = (
                    await run_cli("deliveries", "reconcile", "--json", env=reconcile_env)
                ).json()
                arrived = Counter(
                    a.guid for a in standin.deliveries.hooks[HOOK.spec].attempts if a.status == "OK"
                )
                github.accepted.update(arrived)
                ledger = await settle(github, agents, redis_client, prefix, within=90)
                stored = await redis_client.xlen(EventStream(redis_client, prefix=prefix).key)

    counts = report(
        CASE,
        github,
        ledger,
        outage_seconds=round(down_for, 1),
        failed_at_github=len(outage),
        redelivered=first["redelivered"],
        stored=stored,
    )
    assert set(before) == set(after) == {"OK"}
    assert down_for >= OUTAGE_SECONDS
    assert len(outage) == OUTAGE_SECONDS / PACE_SECONDS
    assert set(outage) == {"failed to connect to host"}
    assert first["complete"] and first["gap"] == len(outage)
    assert first["redelivered"] == len(outage)
    assert second["gap"] == second["redelivered"] == 0
    assert set(arrived.values()) == {1}  # each delivery taken exactly once, none twice
    assert stored == counts.sent == counts.accepted == counts.dispatched == 2 * AROUND + len(outage)
    assert counts.lost == counts.repeated == 0
    assert_clean(CASE, github, ledger)


async def _until(moment: float) -> None:
    """Sleep until ``time.monotonic()`` reaches ``moment`` (a steady pace, no drift)."""
    await asyncio.sleep(max(0.0, moment - time.monotonic()))
