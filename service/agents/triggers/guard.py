"""Only Switchyard pulls a bot's trigger, and only for the system that owns the issue.

:func:`foreign_trigger` (pure) reads an ``issues`` ``labeled`` or ``assigned`` event: a label
(compared case-insensitively, as GitHub does) or an assignee that is the trigger of a
``github-label`` / ``github-assignee`` system other than the issue's owner is foreign, whoever
added it. :class:`TriggerGuard` removes it again through GitHub's REST API, records it in the
audit trail (change ``foreign_trigger_removed``, the sender as actor) and counts it
(``foreign_removed:{system}`` in ``Keys.trigger_counts``). On a hand-back it takes the old
owner's trigger off the issue (:meth:`TriggerGuard.handed_back`).

A removal that GitHub refuses, or that still fails after the retries, is logged and counted
(``remove_failed:{system}``); it never fails the event that revealed it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from redis.asyncio import Redis

from flags.model import Issue, System
from service.agents.triggers.agent import TriggerAgent, trigger_counts_key
from service.errors import AgentError
from service.github.events import IssueEvent
from service.migration.audit import AuditEntry, AuditTrail
from service.pipeline.retry import RetryPolicy, retry
from service.system_kinds import AgentKind

__all__ = ["TriggerGuard", "foreign_trigger"]

_log = logging.getLogger("switchyard.triggers")


def foreign_trigger(
    event: IssueEvent, *, triggers: Mapping[System, tuple[AgentKind, str]], owner: System
) -> System | None:
    """The system whose trigger ``event`` added to an issue ``owner`` owns, if not ``owner``."""
    if event.action == "labeled":
        kind, field, key = AgentKind.GITHUB_LABEL, "label", "name"
    elif event.action == "assigned":
        kind, field, key = AgentKind.GITHUB_ASSIGNEE, "assignee", "login"
    else:
        return None
    added = event.raw.get(field)
    name = added.get(key) if isinstance(added, dict) else None
    if not isinstance(name, str):
        return None
    for system, (system_kind, trigger) in triggers.items():
        if system is not owner and system_kind is kind and trigger.lower() == name.lower():
            return system
    return None


class TriggerGuard:
    def __init__(
        self,
        *,
        agents: Mapping[System, TriggerAgent],
        redis: Redis,
        prefix: str,
        policy: RetryPolicy,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._agents = agents
        self._redis = redis
        self._audit = AuditTrail(redis, prefix=prefix)
        self._counts = trigger_counts_key(prefix)
        self._policy = policy
        self._sleep = sleep

    async def routed(self, event: IssueEvent, *, owner: System) -> None:
        """After ``event`` was routed to ``owner``: take a foreign trigger off again."""
        triggers = {system: (agent.kind, agent.trigger) for system, agent in self._agents.items()}
        system = foreign_trigger(event, triggers=triggers, owner=owner)
        if system is None:
            return
        agent = self._agents[system]
        if not await self._remove(event.issue, system, lambda: agent.remove(event.issue)):
            return
        await self._redis.hincrby(self._counts, f"foreign_removed:{system}", 1)
        await self._audit.record(
            AuditEntry(
                actor=event.sender or "unknown",
                source="github",
                change="foreign_trigger_removed",
                before=f"{agent.kind.removeprefix('github-')} {agent.trigger!r} on {event.issue}",
                after="removed",
                reason=f"{system}'s trigger added to an issue {owner} owns "
                f"(delivery {event.delivery_id})",
            )
        )
        _log.warning(
            "removed %s's trigger %r from %s (owned by %s), added by %r",
            system,
            agent.trigger,
            event.issue,
            owner,
            event.sender,
        )

    async def handed_back(self, issue: Issue, *, old: System) -> None:
        """``issue`` left ``old``: take ``old``'s trigger off it."""
        agent = self._agents.get(old)
        if agent is not None:
            await self._remove(issue, old, lambda: agent.cancel(issue))

    async def _remove(
        self, issue: Issue, system: System, call: Callable[[], Awaitable[bool]]
    ) -> bool:
        try:
            return await retry(call, self._policy, sleep=self._sleep)
        except AgentError as error:
            await self._redis.hincrby(self._counts, f"remove_failed:{system}", 1)
            _log.error("could not remove %s's trigger from %s: %s", system, issue, error)
            return False
