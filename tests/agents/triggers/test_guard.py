"""Foreign triggers come off again; hand-backs move the trigger: the real worker, Redis and
Unleash, with the GitHub stand-in (in-process) as GitHub."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flags.admin_api import UnleashAdmin
from flags.model import KILL_SWITCH_FLAG, Mode, System
from service.agents.bots import BotSupport
from service.agents.triggers.agent import TriggerAgent, trigger_counts_key
from service.agents.triggers.guard import TriggerGuard, foreign_trigger
from service.devtools.github_standin import Standin
from service.github.events import IssueEvent, parse_event
from service.migration.audit import AuditTrail
from service.runtime import Runtime
from service.system_kinds import AgentKind
from tests.pipeline.test_worker import FAST, drained, eventually, make_worker, running, set_mode
from tests.standin import app_credentials, github_client, running_standin

REPO = "acme/triggered"
TRIGGERS = {System.TYPESCRIPT: "legacy-bot", System.PYTHON: "fix-me"}


def body(number: int, action: str = "opened", **extra: Any) -> bytes:
    payload = {
        "action": action,
        "issue": {"number": number, "title": "t", "labels": []},
        "repository": {"full_name": REPO},
        "sender": {"login": extra.pop("sender", "octocat")},
        **extra,
    }
    return json.dumps(payload).encode()


def event(action: str, **extra: Any) -> IssueEvent:
    parsed = parse_event(event="issues", delivery_id="d", body=body(1, action, **extra))
    assert isinstance(parsed, IssueEvent)
    return parsed


def test_a_trigger_of_a_system_that_does_not_own_the_issue_is_foreign() -> None:
    triggers = {
        System.TYPESCRIPT: (AgentKind.GITHUB_LABEL, "legacy-bot"),
        System.PYTHON: (AgentKind.GITHUB_ASSIGNEE, "Copilot"),
    }
    labeled = event("labeled", label={"name": "Legacy-Bot"})
    assigned = event("assigned", assignee={"login": "copilot"})
    ts, py = System.TYPESCRIPT, System.PYTHON
    assert foreign_trigger(labeled, triggers=triggers, owner=py) is ts
    assert foreign_trigger(labeled, triggers=triggers, owner=ts) is None
    assert foreign_trigger(assigned, triggers=triggers, owner=ts) is py
    other = event("labeled", label={"name": "bug"})
    assert foreign_trigger(other, triggers=triggers, owner=py) is None
    assert foreign_trigger(event("opened"), triggers=triggers, owner=py) is None


def labels(standin: Standin, number: int) -> list[str]:
    return standin.issues.issue(REPO, number).labels


@pytest.mark.integration
async def test_triggers_follow_the_owner_and_foreign_ones_are_removed_and_audited(
    runtime: Runtime, flags_reset: UnleashAdmin
) -> None:
    await set_mode(flags_reset, runtime, Mode.PYTHON_ONLY)
    async with running_standin() as (standin, api):
        github = github_client(api, app_credentials())
        agents = {
            system: TriggerAgent(
                system=system,
                kind=AgentKind.GITHUB_LABEL,
                trigger=trigger,
                github=github,
                redis=runtime.redis,
                prefix=runtime.prefix,
            )
            for system, trigger in TRIGGERS.items()
        }
        guard = TriggerGuard(agents=agents, redis=runtime.redis, prefix=runtime.prefix, policy=FAST)
        bots = BotSupport(systems={}, triggers=guard)
        worker = make_worker(runtime, dict(agents), bots=bots)
        async with running(worker):
            await worker.stream.append(delivery_id="t-1", event="issues", body=body(1))
            await eventually(lambda: drained(runtime.redis, worker.stream), what="the label")
            assert labels(standin, 1) == ["fix-me"]
            standin.issues.issue(REPO, 1).labels.append("legacy-bot")  # mallory adds it
            foreign = body(1, "labeled", label={"name": "legacy-bot"}, sender="mallory")
            await worker.stream.append(delivery_id="t-2", event="issues", body=foreign)
            await eventually(lambda: drained(runtime.redis, worker.stream), what="the removal")
            assert labels(standin, 1) == ["fix-me"]

            await flags_reset.set_enabled(KILL_SWITCH_FLAG, True)
            await runtime.provider.refresh()

            async def moved() -> bool:
                return labels(standin, 1) == ["legacy-bot"]

            await eventually(moved, what="the trigger to move to typescript")
            await eventually(lambda: drained(runtime.redis, worker.stream), what="the hand-over")
    assert [(a, what) for a, _, n, what in standin.issues.log if n == 1] == [
        ("label_added", "fix-me"),
        ("label_removed", "legacy-bot"),
        ("label_removed", "fix-me"),
        ("label_added", "legacy-bot"),
    ]
    counts = await runtime.redis.hgetall(trigger_counts_key(runtime.prefix))
    assert counts["foreign_removed:typescript"] == "1"
    (entry,) = [
        e
        for e in await AuditTrail(runtime.redis, prefix=runtime.prefix).recent()
        if e.change == "foreign_trigger_removed"
    ]
    assert entry.actor == "mallory" and "legacy-bot" in entry.before
