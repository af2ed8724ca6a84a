"""The break-glass brake: a kill switch that works while Unleash is down.

A rollback that cannot reach Unleash sets an *override* in Redis (one hash per prefix) and
broadcasts a flag change. Every routing decision reads it (one Redis read per routed event,
under the issue's lock), so from the moment the rollback returns, python is given nothing new,
whatever flags a process holds in its cache.

The override stays *pending* until Unleash answers again. Then one process (the holder of an
atomic claim, ``SET NX`` with a time limit) writes the kill switch into Unleash, marks the
override *synced* (a script that only marks the override it read) and audits that, once. A
synced override is still honoured for :data:`SYNCED_GRACE_SECONDS` so that no process acts on
flags fetched before Unleash held the kill switch; then it expires by itself. Only a human
leaving the rollback (:meth:`~service.migration.control.MigrationControl.leave_rollback`)
removes a pending override: nothing automatic ever turns the brake off.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

from service.keys import Keys

__all__ = [
    "OVERRIDE_TEXT",
    "SYNCED_GRACE_SECONDS",
    "Brake",
    "Override",
    "override_key",
]

OVERRIDE_TEXT = "kill switch ON (override, not yet in Unleash)"
SYNCED_GRACE_SECONDS = 60
_CLAIM_MS = 15_000

# KEYS: override. ARGV: id, actor, source, reason, at. A pending override is kept as it is
# (the first pull wins); a synced or absent one is replaced. Returns 1 when this call set it.
_PULL = """
local held = redis.call('HEXISTS', KEYS[1], 'id') == 1
if held and redis.call('HEXISTS', KEYS[1], 'synced_at') == 0 then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'actor', ARGV[2], 'source', ARGV[3],
  'reason', ARGV[4], 'at', ARGV[5])
return 1
"""

# KEYS: override. ARGV: id, synced_at, grace seconds. Marks the override that was read, once.
_MARK_SYNCED = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then
  return 0
end
if redis.call('HEXISTS', KEYS[1], 'synced_at') == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'synced_at', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def override_key(prefix: str) -> str:
    return Keys(prefix).brake_override


def _claim_key(prefix: str) -> str:
    return Keys(prefix).brake_sync_claim


@dataclass(frozen=True, slots=True)
class Override:
    override_id: str
    actor: str
    source: str
    reason: str
    at: float
    synced_at: float | None = None

    @property
    def pending(self) -> bool:
        """Not yet written to Unleash."""
        return self.synced_at is None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.override_id,
            "actor": self.actor,
            "source": self.source,
            "reason": self.reason,
            "at": self.at,
            "synced_at": self.synced_at,
            "pending": self.pending,
        }


class Brake:
    """The override in Redis: pull it, read it, hand it over to Unleash, release it."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self.key = override_key(prefix)
        self._claim = _claim_key(prefix)
        self._pull = redis.register_script(_PULL)
        self._mark = redis.register_script(_MARK_SYNCED)

    async def engaged(self) -> bool:
        """True while an override (pending, or synced within its grace) is set."""
        return bool(await self._redis.exists(self.key))

    async def read(self) -> Override | None:
        raw = await self._redis.hgetall(self.key)
        if "id" not in raw:
            return None
        synced = raw.get("synced_at")
        return Override(
            override_id=str(raw["id"]),
            actor=str(raw.get("actor", "")),
            source=str(raw.get("source", "")),
            reason=str(raw.get("reason", "")),
            at=float(raw.get("at", 0.0)),
            synced_at=float(synced) if synced is not None else None,
        )

    async def pull(self, *, actor: str, source: str, reason: str) -> tuple[Override, bool]:
        """Set the override; (the override in force, whether this call set it)."""
        override_id = uuid.uuid4().hex
        fresh = await self._pull(
            keys=[self.key], args=[override_id, actor, source, reason, f"{time.time():.3f}"]
        )
        current = await self.read()
        if current is None:  # released between the two calls: set again
            return await self.pull(actor=actor, source=source, reason=reason)
        return current, bool(fresh)

    async def claim_sync(self, holder: str) -> bool:
        """The right to write the pending override to Unleash, for a limited time."""
        return bool(await self._redis.set(self._claim, holder, nx=True, px=_CLAIM_MS))

    async def end_claim(self) -> None:
        await self._redis.delete(self._claim)

    async def mark_synced(self, override: Override) -> bool:
        """Mark ``override`` written to Unleash; false when another call already did, or when
        it was released or replaced meanwhile."""
        args: list[str | int] = [override.override_id, f"{time.time():.3f}", SYNCED_GRACE_SECONDS]
        return bool(await self._mark(keys=[self.key], args=args))

    async def release(self) -> None:
        """Remove the override (a human left the emergency rollback)."""
        await self._redis.delete(self.key)
