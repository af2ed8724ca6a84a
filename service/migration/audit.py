"""The audit trail: every mode change, whoever made it, in one place in Redis.

Entries come from Switchyard itself (CLI, dashboard, watchdog) and from Unleash's event log
(changes made in the Unleash UI, imported by :mod:`service.migration.unleash_events`). Every text
field is stored escaped (:func:`service.escape.escape`: no NUL, newline or other control
character from a name, a reason or Unleash's log reaches the trail raw).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from redis.asyncio import Redis

from service.escape import escape
from service.keys import Keys

__all__ = ["AuditEntry", "AuditTrail"]

_MAX_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    actor: str
    source: str  # cli, dashboard, watchdog, api, unleash (made in Unleash directly)
    change: str  # rollback, leave_rollback, set_mode, set_rollout, or an Unleash event type
    before: str
    after: str
    reason: str
    at: float = field(default_factory=time.time)
    evidence: dict[str, Any] | None = None
    unleash_event_id: int | None = None
    invalid: str | None = None  # a change Switchyard cannot interpret (imported from Unleash)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class AuditTrail:
    """A sorted set scored by when each change happened, so entries imported from Unleash's
    event log after the fact still sit in the order the changes were made."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self.key = Keys(prefix).audit

    async def record(self, entry: AuditEntry) -> None:
        safe = replace(
            entry,
            actor=escape(entry.actor, limit=100),
            source=escape(entry.source, limit=40),
            change=escape(entry.change, limit=100),
            before=escape(entry.before, limit=200),
            after=escape(entry.after, limit=200),
            reason=escape(entry.reason, limit=1000),
        )
        member = json.dumps({**safe.as_dict(), "id": uuid.uuid4().hex})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.key, {member: entry.at})
            pipe.zremrangebyrank(self.key, 0, -_MAX_ENTRIES - 1)
            await pipe.execute()

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        """Newest first."""
        members = await self._redis.zrevrange(self.key, 0, limit - 1)
        entries = []
        for member in members:
            fields = json.loads(str(member))
            fields.pop("id", None)
            entries.append(AuditEntry(**fields))
        return entries
