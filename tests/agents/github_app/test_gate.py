"""The github-app gate against the real stack: Apps' deliveries go into the real Redis stream,
flags come from the real Unleash, the worker forwards to App endpoints served by uvicorn."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, Issue, Mode, System
from flags.secret import Secret
from service.agents.bots import BotSupport
from service.agents.github_app.forward import WebhookForwarder
from service.agents.github_app.gate import gate_counts_key
from service.agents.github_app.intake import check_app_delivery
from service.devtools.app_receiver import create_app_receiver
from service.github.signature import sign
from service.outcomes.from_github import GitHubOutcomes
from service.outcomes.records import CompletionRecord, read_records
from service.pipeline.stream import EventStream
from service.pipeline.worker import Worker
from service.routing.ownership import OwnershipStore
from service.runtime import Runtime
from service.system_kinds import AgentKind, SystemSettings
from tests.agents.github_app.octokit import octokit_verify
from tests.devtools.test_simulator import serve
from tests.pipeline.test_worker import drained, eventually, make_worker, running, set_mode

pytestmark = pytest.mark.integration

REPO = "acme/apps"
SECRETS = {System.TYPESCRIPT: Secret("ts-app-secret"), System.PYTHON: Secret("py-app-secret")}
INSTALLATIONS = {System.TYPESCRIPT: 1001, System.PYTHON: 2002}


@dataclass
class Apps:
    urls: dict[str, str]  # typescript, python, python-shadow
    http: httpx.AsyncClient

    def systems(self) -> dict[System, SystemSettings]:
        return {
            system: SystemSettings(
                system=system,
                kind=AgentKind.GITHUB_APP,
                webhook_secret=SECRETS[system],
                webhook_url=self.urls[system.value],
                shadow_webhook_url=self.urls.get(f"{system.value}-shadow"),
            )
            for system in System
        }

    async def received(self, name: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.urls[name]}/_deliveries")
        deliveries: list[dict[str, Any]] = response.json()
        return deliveries

    async def events(self, name: str) -> list[tuple[str, str]]:
        return [(d["event"], d["delivery_id"]) for d in await self.received(name)]

    async def control(self, name: str, **changes: Any) -> None:
        (await self.http.post(f"{self.urls[name]}/_control", json=changes)).raise_for_status()


@pytest.fixture
async def apps() -> AsyncIterator[Apps]:
    async with (
        serve(create_app_receiver(secret=SECRETS[System.TYPESCRIPT])) as typescript,
        serve(create_app_receiver(secret=SECRETS[System.PYTHON])) as python,
        serve(create_app_receiver(secret=SECRETS[System.PYTHON])) as shadow,
        httpx.AsyncClient(timeout=5) as http,
    ):
        yield Apps({"typescript": typescript, "python": python, "python-shadow": shadow}, http)


def gated_worker(runtime: Runtime, apps: Apps, **options: Any) -> Worker:
    forwarder = options.pop("forwarder", WebhookForwarder(http=runtime.http))
    return make_worker(
        runtime, {}, bots=BotSupport(systems=apps.systems(), forwarder=forwarder), **options
    )


def payload(event: str, system: System, number: int, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "repository": {"full_name": REPO},
        "installation": {"id": INSTALLATIONS[system]},
        "sender": {"login": "octocat"},
        **extra,
    }
    if event in ("issues", "issue_comment"):
        body["issue"] = {"number": number, "title": f"Bug {number}", "body": "it breaks"}
    return body


async def deliver(stream: EventStream, system: System, event: str, body: dict[str, Any]) -> str:
    """What ``POST /webhooks/github/{system}`` does with GitHub's delivery to that App."""
    raw = json.dumps(body).encode()
    delivery_id = str(uuid.uuid4())
    headers = {
        "x-github-event": event,
        "x-github-delivery": delivery_id,
        "x-github-hook-id": "77",
        "x-github-hook-installation-target-id": str(INSTALLATIONS[system]),
        "x-github-hook-installation-target-type": "integration",
        "content-type": "application/json",
        "x-hub-signature-256": sign(SECRETS[system], raw),
    }
    checked = check_app_delivery(headers=headers, body=raw, secret=SECRETS[system])
    await stream.append(
        delivery_id=delivery_id, event=event, body=raw, hook=str(system), headers=checked.headers
    )
    return delivery_id


async def both(stream: EventStream, event: str, number: int, **extra: Any) -> dict[System, str]:
    """Each App's own copy of one event (own delivery id, own installation)."""
    return {
        system: await deliver(stream, system, event, payload(event, system, number, **extra))
        for system in System
    }


@contextlib.asynccontextmanager
async def gating(runtime: Runtime, worker: Worker) -> AsyncIterator[Worker]:
    async with running(worker):
        yield worker
        await eventually(lambda: drained(runtime.redis, worker.stream), what="the gate")


async def test_only_the_owners_app_gets_the_issue_and_every_app_gets_installation_events(
    runtime: Runtime, apps: Apps
) -> None:
    async with gating(runtime, gated_worker(runtime, apps)) as worker:
        opened = await both(worker.stream, "issues", 1, action="opened")
        commented = await both(worker.stream, "issue_comment", 1, action="created")
        installed = await both(worker.stream, "installation", 0, action="created")
    assert await apps.events("typescript") == [
        ("issues", opened[System.TYPESCRIPT]),
        ("issue_comment", commented[System.TYPESCRIPT]),
        ("installation", installed[System.TYPESCRIPT]),
    ]
    assert await apps.events("python") == [("installation", installed[System.PYTHON])]
    received = await apps.received("typescript")
    verdicts = await octokit_verify(
        SECRETS[System.TYPESCRIPT].reveal(), [(d["body"], d["headers"]) for d in received]
    )
    assert [v["verified"] for v in verdicts] == [True, True, True]
    assert [v["id"] for v in verdicts] == [d["delivery_id"] for d in received]
    first = received[0]["headers"]
    assert first["x-github-hook-installation-target-id"] == "1001"
    assert json.loads(received[0]["body"])["installation"] == {"id": 1001}
    counts = await runtime.redis.hgetall(gate_counts_key(runtime.prefix))
    assert counts["withheld:python"] == "2" and counts["forwarded:typescript:act"] == "3"
    routing = await runtime.redis.hgetall(runtime.keys.routing_counts)
    assert routing["total"] == "2"  # one per event, not one per App's copy


async def test_parallel_mode_sends_the_shadows_copy_to_its_shadow_endpoint(
    runtime: Runtime, apps: Apps, flags_reset: UnleashAdmin
) -> None:
    await set_mode(flags_reset, runtime, Mode.PARALLEL)
    async with gating(runtime, gated_worker(runtime, apps)) as worker:
        sent = await both(worker.stream, "issues", 2, action="opened")
    assert await apps.events("typescript") == [("issues", sent[System.TYPESCRIPT])]
    assert await apps.events("python") == []
    assert await apps.events("python-shadow") == [("issues", sent[System.PYTHON])]


async def test_pull_request_events_follow_the_owner_of_their_linked_issue(
    runtime: Runtime, apps: Apps
) -> None:
    async with gating(runtime, gated_worker(runtime, apps)) as worker:
        await both(worker.stream, "issues", 3, action="opened")
        linked = {"number": 30, "body": "Fixes #3", "head": {"ref": "fix"}}
        unowned = {"number": 31, "body": "Fixes #99", "head": {"ref": "fix-2"}}
        loose = {"number": 32, "body": "typo", "head": {"ref": "typo"}}
        to_owned = await both(worker.stream, "pull_request", 0, pull_request=linked)
        await both(worker.stream, "pull_request", 0, pull_request=unowned)
        to_all = await both(worker.stream, "pull_request", 0, pull_request=loose)
    assert [d for _, d in await apps.events("typescript")][1:] == [
        to_owned[System.TYPESCRIPT],
        to_all[System.TYPESCRIPT],
    ]
    assert await apps.events("python") == [("pull_request", to_all[System.PYTHON])]


async def test_a_refusing_app_dead_letters_with_its_answer_and_a_flaky_one_is_retried(
    runtime: Runtime, apps: Apps
) -> None:
    await apps.control("typescript", fail_status=422)
    async with gating(runtime, gated_worker(runtime, apps)) as worker:
        refused = await deliver(worker.stream, System.TYPESCRIPT, "ping", {"zen": "z"})
    (letter,) = await worker.stream.dead_letters()
    assert (letter.delivery_id, letter.system, letter.hook) == (refused, "typescript", "typescript")
    assert "422" in letter.error and "told to fail" in letter.error

    calls: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["x-github-delivery"])
        return httpx.Response(503 if len(calls) < 3 else 202)

    async with httpx.AsyncClient(transport=httpx.MockTransport(flaky)) as http:
        forwarder = WebhookForwarder(http=http)
        async with gating(runtime, gated_worker(runtime, apps, forwarder=forwarder)) as worker:
            taken = await deliver(worker.stream, System.TYPESCRIPT, "ping", {"zen": "z"})
    assert calls == [taken] * 3
    assert len(await worker.stream.dead_letters()) == 1


async def test_a_delivery_handled_twice_is_forwarded_once(runtime: Runtime, apps: Apps) -> None:
    worker = gated_worker(runtime, apps)
    await worker.stream.ensure_group()
    await deliver(worker.stream, System.PYTHON, "push", {"ref": "refs/heads/main"})
    (entry,) = await worker.stream.read("w1", count=1, block_ms=100)
    assert await worker.handle(entry) and await worker.handle(entry)
    assert len(await apps.received("python")) == 1
    counts = await runtime.redis.hgetall(gate_counts_key(runtime.prefix))
    assert counts["repeat:python"] == "1"


async def test_a_hand_back_forwards_the_issues_last_event_to_the_new_owner_only(
    runtime: Runtime, apps: Apps, flags_reset: UnleashAdmin
) -> None:
    await set_mode(flags_reset, runtime, Mode.PYTHON_ONLY)
    async with gating(runtime, gated_worker(runtime, apps)) as worker:
        opened = await both(worker.stream, "issues", 4, action="opened")
        edited = await both(worker.stream, "issues", 4, action="edited")
        await eventually(lambda: drained(runtime.redis, worker.stream), what="python's events")
        assert await apps.events("typescript") == []
        await flags_reset.set_enabled(KILL_SWITCH_FLAG, True)
        await runtime.provider.refresh()  # the sweep hands issue 4 back; no event arrives

        async def handed_over() -> bool:
            return await apps.events("typescript") == [("issues", edited[System.TYPESCRIPT])]

        await eventually(handed_over, what="typescript's last issues event")
        later = await both(worker.stream, "issue_comment", 4, action="created")
    assert await apps.events("python") == [
        ("issues", opened[System.PYTHON]),
        ("issues", edited[System.PYTHON]),
    ]
    assert (await apps.events("typescript"))[1:] == [("issue_comment", later[System.TYPESCRIPT])]
    owner = await OwnershipStore(runtime.redis, prefix=runtime.prefix).owner(Issue(REPO, 4))
    assert owner is not None and owner.system is System.TYPESCRIPT
    counts = await runtime.redis.hgetall(gate_counts_key(runtime.prefix))
    assert counts["handed_over:typescript"] == "1"


async def test_the_apps_own_pull_request_is_its_outcome(runtime: Runtime, apps: Apps) -> None:
    systems = {
        system: dataclasses.replace(config, bot_login=f"{system}-app[bot]")
        for system, config in apps.systems().items()
    }
    outcomes = GitHubOutcomes(
        runtime.redis, prefix=runtime.prefix, systems=systems, deadline_seconds=3600
    )
    bots = BotSupport(
        systems=systems, forwarder=WebhookForwarder(http=runtime.http), outcomes=outcomes
    )
    async with gating(runtime, make_worker(runtime, {}, bots=bots)) as worker:
        await both(worker.stream, "issues", 5, action="opened")
        await eventually(lambda: drained(runtime.redis, worker.stream), what="the issue")
        pull = {
            "number": 55,
            "body": "Fixes #5",
            "head": {"ref": "fix-5"},
            "user": {"login": "typescript-app[bot]"},
        }
        await both(worker.stream, "pull_request", 0, action="opened", pull_request=pull)
    (row,) = await read_records(runtime.redis, runtime.keys.completions, CompletionRecord)
    assert (row.system, str(row.issue), row.success) == ("typescript", f"{REPO}#5", True)
    assert await runtime.redis.zcard(outcomes.awaiting_key(System.TYPESCRIPT)) == 0
