"""redis-server restarts twice during a stream of 1,000 webhooks: while it is down the intake
answers 503 and GitHub redelivers, the workers reconnect, and the AOF brings back every
accepted delivery, pending entry, job record and owner: nothing is lost or acted on twice.

The case runs a redis-server of its own (free port, own data directory) configured like the
stack's (``appendonly``/``appendfsync`` read from the stack's Redis), so restarting it disturbs
no other test. The restarts are graceful (SIGTERM: Redis writes and fsyncs the AOF before it
exits); with ``appendfsync everysec`` only a crash of the machine itself could lose the last
second of acknowledged writes.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Mode
from service.devtools.child_processes import free_port
from service.settings import Settings
from tests.conftest import serve_app
from tests.pipeline.test_worker import eventually
from tests.processes import agent_processes, redis_server
from tests.reliability.ledger import GitHub, assert_clean, report, settle
from tests.reliability.scenario import set_flags, workers

pytestmark = pytest.mark.integration

CASE = "redis_restart"
EVENTS = 1000
RESTARTS = 2
ACTIONS = ("opened", "edited", "labeled", "assigned")


async def test_redis_restarts_during_1000_events_lose_nothing(
    settings: Settings,
    flags_reset: UnleashAdmin,
    env: dict[str, str],
    redis_client: Redis,
    prefix: str,
    tmp_path: Path,
) -> None:
    stack_config = await redis_client.config_get("append*")
    assert stack_config["appendonly"] == "yes"  # the stack's Redis keeps an AOF
    aof = {key: str(stack_config[key]) for key in ("appendonly", "appendfsync")}
    await set_flags(flags_reset, mode=Mode.GRADUAL, rollout=50)
    (tmp_path / "redis").mkdir()

    async with redis_server(tmp_path / "redis", {**aof, "save": ""}) as server:
        own = dataclasses.replace(settings, redis_url=server.url, redis_prefix=prefix)
        async with (
            Redis.from_url(server.url, decode_responses=True) as redis,
            serve_app(own, free_port()) as service,
            agent_processes(env, tmp_path) as agents,
            httpx.AsyncClient(limits=httpx.Limits(max_connections=64)) as http,
        ):
            github = GitHub([service.url], own.require_webhook_secret(), http)
            deliveries = [
                github.issue_event(number, action)
                for number in range(1, EVENTS // len(ACTIONS) + 1)
                for action in ACTIONS
            ]
            probes, stream = deliveries[-RESTARTS:], deliveries[:-RESTARTS]
            worker_env = {
                **env,
                "REDIS_URL": server.url,
                "SWITCHYARD_URL": service.url,
                **{f"SWITCHYARD_{system.name}_URL": url for system, url in agents.urls.items()},
            }
            async with workers("R1", "R2", env=worker_env, logs=tmp_path):
                sending = asyncio.create_task(github.deliver_all(stream, concurrency=8))
                refused = []
                for restart, probe in enumerate(probes, start=1):

                    async def far_enough(restart: int = restart) -> bool:
                        return len(github.accepted) >= restart * len(stream) // (RESTARTS + 1)

                    await eventually(far_enough, what=f"{restart}/3 of the stream", within=60)
                    await server.stop()
                    refused.append(await github.post(probe))  # Redis is down: not taken
                    await server.start()
                await sending
                for probe in probes:  # redelivered, as GitHub would be told to
                    await github.deliver(probe)
                ledger = await settle(github, agents, redis, prefix, within=120)

    report(CASE, github, ledger, restarts=RESTARTS, appendfsync=aof["appendfsync"])
    assert refused == [503] * RESTARTS
    assert github.failed_answers() >= RESTARTS
    assert len(github.sent) == EVENTS
    assert_clean(CASE, github, ledger)
