"""POST /webhooks/github/{system} over real HTTP (uvicorn) into the real Redis stream."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from flags.model import System
from flags.secret import Secret
from service.devtools.child_processes import free_port
from service.github.signature import sign
from service.pipeline.stream import EventStream
from service.settings import Settings
from service.system_kinds import AgentKind, SystemSettings
from service.web.app_webhooks import app_counts_key
from tests.conftest import RunningService, serve_app

pytestmark = pytest.mark.integration

TS_SECRET, PY_SECRET = Secret("ts-hook-secret"), Secret("py-hook-secret")
BODY = json.dumps(
    {
        "action": "opened",
        "issue": {"number": 9, "title": "t"},
        "repository": {"full_name": "acme/app"},
        "installation": {"id": 5},
    }
).encode()


@pytest.fixture
async def gated(settings: Settings, prefix: str) -> AsyncIterator[RunningService]:
    """typescript is a GitHub App; python keeps the job API (its secret set but unused)."""
    systems = {
        System.TYPESCRIPT: SystemSettings(
            system=System.TYPESCRIPT,
            kind=AgentKind.GITHUB_APP,
            webhook_secret=TS_SECRET,
            webhook_url="http://127.0.0.1:9/app",
        ),
        System.PYTHON: SystemSettings(system=System.PYTHON, webhook_secret=PY_SECRET),
    }
    own = dataclasses.replace(settings, redis_prefix=prefix, systems=systems)
    async with serve_app(own, free_port()) as running:
        yield running


def headers(secret: Secret, body: bytes, *, delivery: str, event: str = "issues") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Hook-ID": "123",
        "X-GitHub-Hook-Installation-Target-ID": "5",
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-Hub-Signature-256": sign(secret, body),
    }


async def test_an_apps_delivery_is_persisted_with_its_hook_and_headers(
    gated: RunningService, http: httpx.AsyncClient
) -> None:
    delivery = str(uuid.uuid4())
    url = f"{gated.url}/webhooks/github/typescript"
    first = await http.post(url, content=BODY, headers=headers(TS_SECRET, BODY, delivery=delivery))
    again = await http.post(url, content=BODY, headers=headers(TS_SECRET, BODY, delivery=delivery))
    assert first.status_code == again.status_code == 202
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    runtime = gated.runtime
    stream = EventStream(runtime.redis, prefix=runtime.prefix)
    rows: Any = await runtime.redis.xrange(stream.key)
    ((_, fields),) = rows
    assert fields["hook"] == "typescript" and fields["body"].encode() == BODY
    forwarded = dict(json.loads(fields["headers"]))
    assert forwarded["X-GitHub-Hook-Installation-Target-ID"] == "5"
    assert forwarded["X-GitHub-Delivery"] == delivery
    assert "X-Hub-Signature-256" not in forwarded  # re-signed when forwarded


async def test_another_systems_secret_is_401_and_unknown_systems_are_404(
    gated: RunningService, http: httpx.AsyncClient
) -> None:
    base = f"{gated.url}/webhooks/github"
    wrong = await http.post(
        f"{base}/typescript", content=BODY, headers=headers(PY_SECRET, BODY, delivery="w-1")
    )
    assert wrong.status_code == 401 and "does not match" in wrong.json()["error"]
    for system in ("ruby", "python"):  # python is a job-api system: it has no App hook here
        answer = await http.post(
            f"{base}/{system}", content=BODY, headers=headers(PY_SECRET, BODY, delivery="w-2")
        )
        assert answer.status_code == 404, system
    bad = b"{not json"
    broken = await http.post(
        f"{base}/typescript", content=bad, headers=headers(TS_SECRET, bad, delivery="w-3")
    )
    assert broken.status_code == 400
    empty = json.dumps({"repository": {"full_name": "acme/app"}}).encode()
    missing = await http.post(
        f"{base}/typescript", content=empty, headers=headers(TS_SECRET, empty, delivery="w-4")
    )
    assert missing.status_code == 400 and "issue" in missing.json()["error"]
    runtime = gated.runtime
    assert await runtime.redis.xlen(EventStream(runtime.redis, prefix=runtime.prefix).key) == 0
    counts = await runtime.redis.hgetall(app_counts_key(runtime.prefix, System.TYPESCRIPT))
    assert counts == {"rejected:401": "1", "rejected:400": "2"}


async def test_a_bots_pull_request_is_kept_when_a_system_reports_only_through_github(
    gated: RunningService, http: httpx.AsyncClient
) -> None:
    opened = json.dumps(
        {
            "action": "opened",
            "repository": {"full_name": "acme/app"},
            "pull_request": {"number": 3, "body": "Fixes #9", "head": {"ref": "x"}},
        }
    ).encode()
    secret = gated.settings.require_webhook_secret()
    answer = await http.post(
        f"{gated.url}/webhooks/github",
        content=opened,
        headers={**headers(secret, opened, delivery="pr-1", event="pull_request")},
    )
    assert answer.status_code == 202 and answer.json()["accepted"] is True
