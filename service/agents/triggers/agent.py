"""A bot triggered by a label or an assignee, as an :class:`~service.agents.protocol.AgentSystem`.

``process`` applies the system's trigger to the issue through GitHub's REST API (the label:
``POST /repos/{o}/{r}/issues/{n}/labels``; the assignee: ``POST .../assignees``), once per issue:
a mark in Redis (``Keys.trigger_applied(system, issue)``) is set after GitHub
took it, and a marked issue is not sent again (both calls are idempotent at GitHub anyway).
``cancel`` (a hand-back) removes it (``DELETE .../labels/{name}``, ``DELETE .../assignees``) and
clears the mark; ``remove`` does the same for a trigger Switchyard did not apply.

A shadow (dry-run) job applies nothing: a trigger cannot be pulled without the bot acting.
GitHub's answers map onto the agent errors the dispatcher retries or dead-letters: rate limits
are waited out by the client (:mod:`service.github.api`) and, if still limited, retried by the
dispatcher with backoff; 5xx and no answer likewise; a 401 after the client renewed the
installation token once is refused with a reason saying so; any other 4xx is refused.
"""

from __future__ import annotations

from urllib.parse import quote

from redis.asyncio import Redis

from flags.model import Issue, System
from service.agents.protocol import AgentJob
from service.errors import (
    AgentError,
    AgentRejected,
    AgentRetryable,
    GitHubError,
    GitHubRejected,
    GitHubRetryable,
)
from service.github.api.client import GitHubClient
from service.keys import Keys
from service.outcomes.from_github import GitHubOutcomes
from service.system_kinds import AgentKind

__all__ = ["TriggerAgent", "trigger_counts_key"]

_MARK_SECONDS = 90 * 24 * 3600


def trigger_counts_key(prefix: str) -> str:
    """The hash counting triggers ``applied:{system}``, ``removed:{system}`` and
    ``foreign_removed:{system}``."""
    return Keys(prefix).trigger_counts


class TriggerAgent:
    def __init__(
        self,
        *,
        system: System,
        kind: AgentKind,
        trigger: str,
        github: GitHubClient,
        redis: Redis,
        prefix: str,
        outcomes: GitHubOutcomes | None = None,
    ) -> None:
        if kind not in (AgentKind.GITHUB_LABEL, AgentKind.GITHUB_ASSIGNEE):
            raise ValueError(f"a TriggerAgent is for github-label or github-assignee, not {kind}")
        self._system = system
        self.kind = kind
        self.trigger = trigger
        self._github = github
        self._redis = redis
        self._prefix = prefix
        self._counts = trigger_counts_key(prefix)
        self._outcomes = outcomes

    @property
    def system(self) -> System:
        return self._system

    def __repr__(self) -> str:
        return f"TriggerAgent({self._system!s}, {self.kind!s}, {self.trigger!r})"

    def _mark(self, issue: Issue) -> str:
        return Keys(self._prefix).trigger_applied(self._system, issue)

    async def process(self, job: AgentJob) -> None:
        issue = job.target
        if job.dry_run or await self._redis.exists(self._mark(issue)):
            return
        base = _issue_path(issue)
        try:
            if self.kind is AgentKind.GITHUB_LABEL:
                await self._github.post(f"{base}/labels", data={"labels": [self.trigger]})
            else:
                await self._github.post(f"{base}/assignees", data={"assignees": [self.trigger]})
        except GitHubError as error:
            raise self._agent_error("apply", error, issue, job.delivery_id) from error
        await self._redis.set(self._mark(issue), "1", ex=_MARK_SECONDS)
        await self._redis.hincrby(self._counts, f"applied:{self._system}", 1)
        if self._outcomes is not None:  # the bot's PR (or silence) tells how it went
            await self._outcomes.dispatched(self._system, issue, reopened=job.action == "reopened")

    async def cancel(self, issue: Issue) -> bool:
        """Remove the trigger (a hand-back); false if it was not on the issue."""
        removed = await self.remove(issue)
        await self._redis.delete(self._mark(issue))
        if removed:
            await self._redis.hincrby(self._counts, f"removed:{self._system}", 1)
        return removed

    async def remove(self, issue: Issue) -> bool:
        """Take the trigger off ``issue``; false if it was not there (GitHub's 404)."""
        base = _issue_path(issue)
        try:
            if self.kind is AgentKind.GITHUB_LABEL:
                await self._github.delete(f"{base}/labels/{quote(self.trigger, safe='')}")
            else:
                await self._github.delete(f"{base}/assignees", data={"assignees": [self.trigger]})
        except GitHubRejected as error:
            if error.github_status == 404:
                return False
            raise self._agent_error("remove", error, issue, None) from error
        except GitHubError as error:
            raise self._agent_error("remove", error, issue, None) from error
        return True

    async def health(self) -> bool:
        return True  # GitHub's health is not this bot's; the bot itself cannot be probed

    def _agent_error(
        self, verb: str, error: GitHubError, issue: Issue, delivery_id: str | None
    ) -> AgentError:
        what = f"{self._system}: {verb} {self.kind.removeprefix('github-')} {self.trigger!r}"
        if isinstance(error, GitHubRetryable):
            return AgentRetryable(
                f"{what} on {issue}: {error}",
                system=self._system,
                agent_status=error.github_status,
                issue=issue,
                delivery_id=delivery_id,
            )
        reason = str(error)
        if error.github_status == 401:
            reason = "GitHub refused the installation token even after renewing it once"
        return AgentRejected(
            f"{what} on {issue}: {reason}",
            system=self._system,
            agent_status=error.github_status,
            issue=issue,
            delivery_id=delivery_id,
        )


def _issue_path(issue: Issue) -> str:
    owner, _, name = issue.repository.partition("/")
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}/issues/{issue.number}"
