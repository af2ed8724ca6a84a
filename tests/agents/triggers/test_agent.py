"""Label and assignee triggers against the GitHub stand-in (in-process) and the real Redis."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis

from flags.model import Issue, System
from service.agents.protocol import AgentJob
from service.agents.triggers.agent import TriggerAgent, trigger_counts_key
from service.devtools.github_standin import LimitSettings, Standin
from service.errors import AgentRejected
from service.github.api.client import GitHubClient
from service.system_kinds import AgentKind
from tests.standin import FakeTime, app_credentials, github_client, running_standin

pytestmark = pytest.mark.integration

REPO = "acme/bots"


def job(number: int, *, dry_run: bool = False, delivery: str = "d") -> AgentJob:
    return AgentJob(
        job_id=f"job-{delivery}",
        delivery_id=delivery,
        repository=REPO,
        issue_number=number,
        action="opened",
        issue={},
        dry_run=dry_run,
        callback_url="http://127.0.0.1:9/",
    )


def agent(
    github: GitHubClient, redis: Redis, prefix: str, kind: AgentKind, trigger: str
) -> TriggerAgent:
    return TriggerAgent(
        system=System.PYTHON, kind=kind, trigger=trigger, github=github, redis=redis, prefix=prefix
    )


def log(standin: Standin) -> list[tuple[str, int, str]]:
    return [(action, number, what) for action, _, number, what in standin.issues.log]


async def test_a_label_is_applied_once_and_removed_on_hand_back(
    redis_client: Redis, prefix: str
) -> None:
    async with running_standin() as (standin, api):
        label = agent(
            github_client(api, app_credentials()),
            redis_client,
            prefix,
            AgentKind.GITHUB_LABEL,
            "fix-me",
        )
        await label.process(job(1, delivery="a"))
        await label.process(job(1, delivery="b"))  # another event of the issue
        await label.process(job(2, dry_run=True))  # a shadow pulls no trigger
        assert standin.issues.issue(REPO, 1).labels == ["fix-me"]
        assert await label.cancel(Issue(REPO, 1)) is True
        assert await label.cancel(Issue(REPO, 1)) is False  # GitHub's 404: nothing there
    assert log(standin) == [("label_added", 1, "fix-me"), ("label_removed", 1, "fix-me")]
    counts = await redis_client.hgetall(trigger_counts_key(prefix))
    assert counts == {"applied:python": "1", "removed:python": "1"}


async def test_an_assignee_is_assigned_once_and_unassigned_on_hand_back(
    redis_client: Redis, prefix: str
) -> None:
    async with running_standin() as (standin, api):
        assignee = agent(
            github_client(api, app_credentials()),
            redis_client,
            prefix,
            AgentKind.GITHUB_ASSIGNEE,
            "Copilot",
        )
        await assignee.process(job(3))
        await assignee.process(job(3, delivery="again"))
        assert standin.issues.issue(REPO, 3).assignees == ["Copilot"]
        await assignee.cancel(Issue(REPO, 3))
    assert log(standin) == [("assignee_added", 3, "Copilot"), ("assignee_removed", 3, "Copilot")]


async def test_rate_limits_delay_the_label_and_never_apply_it_twice(
    redis_client: Redis, prefix: str
) -> None:
    clock = FakeTime()
    limits = LimitSettings(force_secondary=2, secondary_retry_after=60)
    async with running_standin(clock=clock, limits=limits) as (standin, api):
        github = github_client(api, app_credentials(), clock=clock)
        label = agent(github, redis_client, prefix, AgentKind.GITHUB_LABEL, "fix-me")
        await label.process(job(4))
    assert log(standin) == [("label_added", 4, "fix-me")]
    assert sum(clock.sleeps) >= 120  # two secondary limits, a minute each, waited out
    assert standin.limits.refused["secondary"] == 2


async def test_a_revoked_token_is_renewed_once_then_refused_with_a_clear_reason(
    redis_client: Redis, prefix: str
) -> None:
    async with running_standin() as (standin, api):
        github = github_client(api, app_credentials())
        label = agent(github, redis_client, prefix, AgentKind.GITHUB_LABEL, "fix-me")
        standin.auth.revoke((await github.installation_token()).reveal())
        await label.process(job(5))  # renewed once, then applied
        assert standin.auth.issued_count == 2

        async def revoke_every_new_token(response: httpx.Response) -> None:
            if response.request.url.path.endswith("/access_tokens"):
                await response.aread()
                standin.auth.revoke(response.json()["token"])

        api.event_hooks["response"].append(revoke_every_new_token)
        standin.auth.revoke((await github.installation_token()).reveal())
        with pytest.raises(AgentRejected, match="even after renewing it once") as refused:
            await label.process(job(6))
    assert refused.value.agent_status == 401
    assert standin.issues.issue(REPO, 6).labels == []
