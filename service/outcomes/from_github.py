"""Outcomes of systems that never call back, read from GitHub's own events.

A ``github-app``, ``github-label`` or ``github-assignee`` system reports nothing to Switchyard;
what it did shows on GitHub. When such a system is first set to work on an issue (its trigger
applied, or the App's first ``issues`` delivery of the issue forwarded to it), the issue starts
*awaiting* an outcome (:meth:`GitHubOutcomes.dispatched`). Then, first come first counted:

- a pull request opened by the system's bot (``SWITCHYARD_<SYSTEM>_BOT_LOGIN``) that links to
  the issue (closing keywords, branch name: :mod:`service.github.links`) is a **success**, with
  the time from dispatch to the event as its duration and the PR number (so PR acceptance and
  build success are attributed as for callbacks);
- a comment by the bot on the issue containing ``SWITCHYARD_<SYSTEM>_FAILURE_MARKER``
  (case-insensitive) is a **failure**;
- no such pull request within ``SWITCHYARD_OUTCOME_DEADLINE_SECONDS`` (default 86400, a day) is a
  **failure** with the deadline as its duration (:meth:`GitHubOutcomes.expire`, run every
  :data:`EXPIRY_SECONDS` by each worker; it reads only the issues past their deadline).

The outcome is recorded exactly like a completion callback, on the system's oldest acting job of
the issue still in flight (the metrics, the duration histogram and the side-by-side table read it
the same way); any other in-flight acting job of the system on the issue is completed with it.
An issue is settled once (``ZREM`` on the awaiting set decides who records it), and is not
awaited again unless it is reopened. Keys: ``Keys.outcome_awaiting(system)`` (sorted set of issues
by dispatch time) and ``Keys.outcome_settled(system, issue)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from flags.model import Issue, System
from service.agents.completion import Completion
from service.github.links import linked_issues
from service.keys import Keys
from service.outcomes.recorder import OutcomeRecorder
from service.pipeline.jobs import JobState, JobStore
from service.system_kinds import SystemSettings

__all__ = [
    "EXPIRY_SECONDS",
    "BotActivity",
    "GitHubOutcomes",
    "bot_activity",
    "outcome_sources",
    "verdict",
]

_log = logging.getLogger("switchyard.outcomes")
EXPIRY_SECONDS = 30.0
_SETTLED_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True, slots=True)
class BotActivity:
    """A pull request opened (``pr_number`` set) or an issue comment, and who did it."""

    repository: str
    author: str
    issues: tuple[int, ...]
    pr_number: int | None
    body: str


def bot_activity(*, event: str, payload: Mapping[str, Any]) -> BotActivity | None:
    """A ``pull_request`` ``opened`` or an ``issue_comment`` ``created`` on an issue; else None."""
    repo = payload.get("repository")
    repository = repo.get("full_name") if isinstance(repo, dict) else None
    if not isinstance(repository, str) or "/" not in repository:
        return None
    if event == "pull_request" and payload.get("action") == "opened":
        pull = payload.get("pull_request")
        if not isinstance(pull, dict) or not isinstance(pull.get("number"), int):
            return None
        head = pull.get("head")
        branch = head.get("ref") if isinstance(head, dict) else None
        body = pull.get("body") if isinstance(pull.get("body"), str) else ""
        issues = linked_issues(
            repository=repository, body=body, branch=branch if isinstance(branch, str) else None
        )
        return BotActivity(repository, _login(pull), issues, pull["number"], body or "")
    if event == "issue_comment" and payload.get("action") == "created":
        issue, comment = payload.get("issue"), payload.get("comment")
        if not isinstance(issue, dict) or not isinstance(comment, dict):
            return None
        number = issue.get("number")
        if issue.get("pull_request") is not None or not isinstance(number, int):
            return None
        body = comment.get("body")
        return BotActivity(
            repository, _login(comment), (number,), None, body if isinstance(body, str) else ""
        )
    return None


def _login(data: dict[str, Any]) -> str:
    user = data.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    return login if isinstance(login, str) else ""


def verdict(
    activity: BotActivity, systems: Mapping[System, SystemSettings]
) -> tuple[System, bool] | None:
    """Whose bot did it, and whether it is a success (a PR) or a failure (the marker)."""
    for system, config in systems.items():
        if config.kind.calls_back or not config.bot_login:
            continue
        if activity.author.lower() != config.bot_login.lower():
            continue
        if activity.pr_number is not None:
            return system, True
        marker = config.failure_marker
        if marker and marker.lower() in activity.body.lower():
            return system, False
    return None


def outcome_sources(systems: Mapping[System, SystemSettings], deadline: float) -> dict[str, str]:
    """Where each system's numbers come from, for the side-by-side table."""
    sources = {}
    for system, config in systems.items():
        if config.kind.calls_back:
            sources[system.value] = "completion callbacks"
            continue
        text = f"GitHub: PRs opened by {config.bot_login or '(no bot login set)'}"
        text += f", none within {deadline / 3600:g} h = failure"
        if config.failure_marker:
            text += f", bot comment {config.failure_marker!r} = failure"
        sources[system.value] = text
    return sources


class GitHubOutcomes:
    """Awaits outcomes of issues dispatched to systems that cannot call back, and records them."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        systems: Mapping[System, SystemSettings],
        deadline_seconds: float,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._systems = systems
        self._deadline = deadline_seconds
        self._jobs = JobStore(redis, prefix=prefix)
        self._recorder = OutcomeRecorder(redis, prefix=prefix)

    def awaiting_key(self, system: System) -> str:
        return Keys(self._prefix).outcome_awaiting(system)

    def _settled_key(self, system: System, issue: Issue) -> str:
        return Keys(self._prefix).outcome_settled(system, issue)

    def watches(self, system: System) -> bool:
        return not self._systems[system].kind.calls_back

    async def dispatched(
        self, system: System, issue: Issue, *, at: float | None = None, reopened: bool = False
    ) -> bool:
        """``system`` was set to work on ``issue``; true if the issue now awaits its outcome."""
        if not self.watches(system):
            return False
        settled = self._settled_key(system, issue)
        if reopened:
            await self._redis.delete(settled)
        elif await self._redis.exists(settled):
            return False
        added = await self._redis.zadd(
            self.awaiting_key(system), {str(issue): at or time.time()}, nx=True
        )
        return bool(added)

    async def observe(self, *, event: str, body: bytes, at: float) -> bool:
        """Look at one delivery; true if it settled an issue."""
        try:
            payload = json.loads(body)
        except ValueError:
            return False
        activity = bot_activity(event=event, payload=payload) if isinstance(payload, dict) else None
        found = verdict(activity, self._systems) if activity is not None else None
        if activity is None or found is None:
            return False
        system, success = found
        settled = False
        for number in activity.issues:
            issue = Issue(activity.repository, number)
            settled |= await self._settle(
                system, issue, success=success, at=at, pr_number=activity.pr_number
            )
        return settled

    async def expire(self, *, now: float | None = None) -> int:
        """Settle as failures the issues past their deadline; how many."""
        cutoff = (now or time.time()) - self._deadline
        count = 0
        for system in System:
            if not self.watches(system):
                continue
            late: list[Any] = await self._redis.zrangebyscore(
                self.awaiting_key(system), "-inf", cutoff, withscores=True
            )
            for member, since in late:
                repository, _, number = str(member).rpartition("#")
                issue = Issue(repository, int(number))
                if await self._settle(
                    system, issue, success=False, at=float(since) + self._deadline
                ):
                    count += 1
        return count

    async def run(self, stop: asyncio.Event) -> None:
        """Expire every :data:`EXPIRY_SECONDS` until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.expire()
            except Exception:  # the next round tries again
                _log.exception("outcome expiry failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), EXPIRY_SECONDS)

    async def _settle(
        self,
        system: System,
        issue: Issue,
        *,
        success: bool,
        at: float,
        pr_number: int | None = None,
    ) -> bool:
        key = self.awaiting_key(system)
        since = await self._redis.zscore(key, str(issue))
        if since is None or not await self._redis.zrem(key, str(issue)):
            return False  # not awaited, or another process settled it first
        await self._redis.set(self._settled_key(system, issue), "1", ex=_SETTLED_SECONDS)
        jobs = sorted(
            (
                job
                for job in await self._jobs.in_flight(issue)
                if job.system is system and not job.dry_run
            ),
            key=lambda job: job.created_at,
        )
        if not jobs:
            _log.info("%s: %s settled but no job of %s is in flight", issue, system, system)
            return True
        first = jobs[0]
        completion = Completion(
            job_id=first.job_id,
            issue_number=issue.number,
            success=success,
            duration_seconds=max(0.0, at - float(since)),
            dry_run=False,
            pr_number=pr_number,
        )
        for job in jobs:
            await self._jobs.update(job.job_id, JobState.COMPLETED)
        await self._recorder.completion_once(first, completion)
        _log.info(
            "%s outcome for %s from GitHub: %s after %.0f s",
            system,
            issue,
            "success" if success else "failure",
            completion.duration_seconds,
        )
        return True
