"""Routing one issue for real: flags through OpenFeature, the pure decision, sticky ownership.

:meth:`IssueRouter.route` is what the worker calls while it holds the issue's lock: it reads
the owner, evaluates the flags for the issue, asks :func:`flags.routing.route` and records the
outcome (a first claim, or python handing an issue back to typescript). :meth:`explain` does
the same without writing anything, for ``switchyard route``. Degraded decisions (no flags) and
decisions from cached flags are counted in Redis and logged, never silent. The break-glass
override (:mod:`service.migration.brake`) is read from Redis for every decision, so a rollback
made while Unleash is down holds from the moment it returns.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from flags.model import Issue, System
from flags.routing import Decision, route
from flags.source import FlagSource, Freshness
from service.keys import Keys
from service.migration.brake import Brake
from service.routing.ownership import Ownership, OwnershipStore

__all__ = ["IssueRouter", "RoutedIssue", "RoutingCounters"]

_log = logging.getLogger("switchyard.routing")


@dataclass(frozen=True, slots=True)
class RoutedIssue:
    issue: Issue
    decision: Decision
    owner: Ownership | None  # after the decision was recorded (None only from explain)
    freshness: Freshness


_COUNTED_TTL = 7 * 24 * 3600
_RECENT = 200  # routed issues kept in ``<prefix>:routing:recent`` (the dashboard shows them)


class RoutingCounters:
    """Decision counts per mode, acting system, and degraded / cached, in one Redis hash; and
    the last routed issues with their decisions, newest first, in a capped list.

    A delivery is counted once: a redelivered or reclaimed stream entry is routed again (the
    decision must be re-made) but not counted again.
    """

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._keys = Keys(prefix)
        self.key = self._keys.routing_counts
        self.recent_key = self._keys.routing_recent

    async def record(
        self,
        decision: Decision,
        freshness: Freshness,
        *,
        issue: Issue | None = None,
        delivery_id: str | None = None,
    ) -> None:
        if delivery_id is not None:
            first = await self._redis.set(
                self._keys.routing_counted(delivery_id), "1", nx=True, ex=_COUNTED_TTL
            )
            if not first:
                return
        async with self._redis.pipeline(transaction=False) as pipe:
            if issue is not None:
                entry = {"issue": str(issue), "at": time.time(), **decision.as_dict()}
                pipe.lpush(self.recent_key, json.dumps(entry))
                pipe.ltrim(self.recent_key, 0, _RECENT - 1)
            pipe.hincrby(self.key, "total", 1)
            pipe.hincrby(self.key, f"mode:{decision.mode.value}", 1)
            pipe.hincrby(self.key, f"acting:{decision.acting.value}", 1)
            if decision.shadow is not None:
                pipe.hincrby(self.key, f"shadow:{decision.shadow.value}", 1)
            if decision.degraded:
                pipe.hincrby(self.key, "degraded", 1)
            if freshness is Freshness.CACHED:
                pipe.hincrby(self.key, "cached_flags", 1)
            if decision.hand_back:
                pipe.hincrby(self.key, "handed_back", 1)
            await pipe.execute()

    async def read(self) -> dict[str, int]:
        raw = await self._redis.hgetall(self.key)
        return {str(key): int(value) for key, value in raw.items()}


class IssueRouter:
    def __init__(
        self,
        *,
        flags: FlagSource,
        owners: OwnershipStore,
        counters: RoutingCounters | None = None,
        brake: Brake | None = None,
    ) -> None:
        self._flags = flags
        self._owners = owners
        self._counters = counters
        self._brake = brake

    async def _decide(self, issue: Issue, owner: System | None) -> tuple[Decision, Freshness]:
        snapshot = self._flags.snapshot(repository=issue.repository, issue_number=issue.number)
        if self._brake is not None and await self._brake.engaged():
            snapshot = dataclasses.replace(snapshot, override=True)
        return route(snapshot, owner), snapshot.freshness

    @classmethod
    def counted(
        cls, *, flags: FlagSource, owners: OwnershipStore, redis: Redis, prefix: str
    ) -> IssueRouter:
        """A router that counts its decisions and honours the break-glass brake (workers)."""
        counters = RoutingCounters(redis, prefix=prefix)
        return cls(flags=flags, owners=owners, counters=counters, brake=Brake(redis, prefix=prefix))

    async def rolling_back(self) -> bool:
        """The kill switch is on in the flags held, or the break-glass override is set."""
        if self._flags.snapshot(repository="", issue_number=0).kill_switch is True:
            return True
        return self._brake is not None and await self._brake.engaged()

    async def explain(self, issue: Issue) -> RoutedIssue:
        """What :meth:`route` would decide now; writes nothing."""
        current = await self._owners.owner(issue)
        decision, freshness = await self._decide(issue, current.system if current else None)
        return RoutedIssue(issue, decision, current, freshness)

    async def route(self, issue: Issue, *, delivery_id: str | None = None) -> RoutedIssue:
        """Decide and record. Call it while holding the issue's lock.

        ``delivery_id`` names the event being routed, so that routing it again (a reclaimed
        entry) is not counted twice.
        """
        current = await self._owners.owner(issue)
        decision, freshness = await self._decide(issue, current.system if current else None)
        owner = current
        if decision.claim:
            owner, won = await self._owners.claim(issue, decision.acting, reason=decision.reason)
            if not won:  # another process claimed first: follow its owner
                decision, freshness = await self._decide(issue, owner.system)
        elif decision.hand_back:
            owner = await self._owners.hand_back(
                issue, expected=System.PYTHON, to=System.TYPESCRIPT, reason=decision.reason
            ) or await self._owners.owner(issue)
        if decision.degraded:
            _log.warning("degraded decision for %s: %s", issue, decision.reason)
        if self._counters is not None:
            await self._counters.record(decision, freshness, issue=issue, delivery_id=delivery_id)
        return RoutedIssue(issue, decision, owner, freshness)
