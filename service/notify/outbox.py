"""The notification outbox in Redis: every plan event and watchdog rollback, delivered once to
each receiver, retried with backoff, never in the way of the plan or the rollback.

:meth:`Outbox.publish` records an event under its id (a repeat of the id is dropped: the
deduplication) and schedules it once, as ``{id}|*``, in a sorted set scored by when it is due:
who publishes (the CLI, the dashboard, the watchdog) need not know the receivers. The deliverer
(:meth:`Outbox.deliver_due`; the watchdog runs it in a task of its own, with the senders its
settings configure) expands ``{id}|*`` into one delivery per receiver it has, ``{id}|{name}``,
in one Lua script that runs once per event (the ``ZREM`` of ``{id}|*`` decides). It claims due
deliveries with a short lease (one Lua script: of two processes, one claims), sends them with a
short timeout,
and on failure reschedules them ``2^attempt`` seconds later (at most 5 minutes) until
``max_attempts``. A claim whose process died comes due again when its lease ends, so a delivery
may repeat: receivers deduplicate by the event id (``X-Switchyard-Event``), which is the same on
every attempt. The state of each delivery is kept for the dashboard (:meth:`Outbox.recent`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

from service.keys import Keys
from service.notify.senders import Sender

__all__ = ["ALL_RECEIVERS", "Notification", "Outbox"]

ALL_RECEIVERS = "*"  # the receiver of a published event not yet expanded by a deliverer

_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[2], member)
end
return due
"""
# KEYS: due, deliveries. ARGV: the ``{id}|*`` member, now, the event id, then receiver name and
# pending row pairs.
_EXPAND = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
for i = 4, #ARGV, 2 do
  local member = ARGV[3] .. '|' .. ARGV[i]
  if redis.call('HSETNX', KEYS[2], member, ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[2], member)
  end
end
return 1
"""
_MAX_BACKOFF = 300.0
_KEEP_EVENTS = 1_000


@dataclass(frozen=True, slots=True)
class Notification:
    kind: str  # plan_started, plan_advanced, plan_held, ..., watchdog_rollback
    text: str  # one line for people (Slack)
    actor: str
    details: dict[str, Any] = field(default_factory=dict)  # evidence, plan, step, ...
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Outbox:
    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        senders: Sequence[Sender] = (),
        max_attempts: int = 8,
        lease_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._senders = {sender.name: sender for sender in senders}
        keys = Keys(prefix)
        self._events = keys.notify_events
        self._due = keys.notify_due
        self._deliveries = keys.notify_deliveries
        self._claim = redis.register_script(_CLAIM)
        self._expand = redis.register_script(_EXPAND)
        self._max_attempts = max_attempts
        self._lease = lease_seconds
        self._clock = clock

    async def publish(self, event: Notification) -> bool:
        """Record ``event`` for every receiver the deliverer has; False when its id was
        published before (nothing is scheduled again)."""
        if not await self._redis.hsetnx(self._events, event.id, json.dumps(event.as_dict())):
            return False
        member = f"{event.id}|{ALL_RECEIVERS}"
        state = {"event": event.id, "kind": event.kind, "receiver": ALL_RECEIVERS, "attempts": 0}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self._due, {member: self._clock()})
            pipe.hset(self._deliveries, member, json.dumps({**state, "status": "pending"}))
            await pipe.execute()
        return True

    async def deliver_due(self, *, limit: int = 20) -> int:
        """Send what is due now; how many were delivered. Never raises for a receiver's fault.
        Without senders (a publisher only), nothing is claimed: the events wait for a deliverer."""
        if not self._senders:
            return 0
        now = self._clock()
        claimed = [
            str(m)
            for m in await self._claim(keys=[self._due], args=[now, now + self._lease, limit])
        ]
        published = [m for m in claimed if m.endswith(f"|{ALL_RECEIVERS}")]
        for member in published:
            await self._expand_to_senders(member, now)
        if published:  # the deliveries just expanded are due now
            claimed = [m for m in claimed if m not in published] + [
                str(m)
                for m in await self._claim(keys=[self._due], args=[now, now + self._lease, limit])
            ]
        delivered = 0
        for member in claimed:
            delivered += await self._deliver(member, now)
        return delivered

    async def _expand_to_senders(self, member: str, now: float) -> None:
        event_id = member.split("|", 1)[0]
        raw_state = await self._redis.hget(self._deliveries, member)
        state = json.loads(raw_state) if raw_state else {"event": event_id, "attempts": 0}
        pairs: list[str] = []
        for name in self._senders:
            row = {**state, "receiver": name, "attempts": 0, "status": "pending"}
            pairs += [name, json.dumps(row)]
        await self._expand(keys=[self._due, self._deliveries], args=[member, now, event_id, *pairs])

    async def _deliver(self, member: str, now: float) -> int:
        event_id, name = member.split("|", 1)
        raw_event = await self._redis.hget(self._events, event_id)
        raw_state = await self._redis.hget(self._deliveries, member)
        sender = self._senders.get(name)
        state = json.loads(raw_state) if raw_state else {"attempts": 0}
        if raw_event is None or sender is None:  # another deliverer's receiver, or a lost event
            await self._finish(member, state | {"status": "failed", "error": "no such receiver"})
            return 0
        attempts = int(state.get("attempts", 0)) + 1
        error = await sender.send(Notification(**json.loads(raw_event)))
        state |= {"attempts": attempts, "last_attempt": now, "error": error}
        if error is None:
            state["status"] = "delivered"
            await self._finish(member, state)
            return 1
        if attempts >= self._max_attempts:
            state["status"] = "failed"
            await self._finish(member, state)
            return 0
        state["status"] = "retrying"
        retry_at = now + min(_MAX_BACKOFF, 2.0**attempts)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._deliveries, member, json.dumps(state))
            pipe.zadd(self._due, {member: retry_at})
            await pipe.execute()
        return 0

    async def _finish(self, member: str, state: dict[str, Any]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._deliveries, member, json.dumps(state))
            pipe.zrem(self._due, member)
            await pipe.execute()
        if await self._redis.hlen(self._events) > _KEEP_EVENTS:
            pending = {str(m).split("|", 1)[0] for m in await self._redis.zrange(self._due, 0, -1)}
            events = await self._redis.hgetall(self._events)
            oldest = sorted((json.loads(v)["at"], str(k)) for k, v in events.items())
            stale = [k for _, k in oldest[: len(oldest) - _KEEP_EVENTS] if k not in pending]
            if stale:
                names = [*self._senders, ALL_RECEIVERS]
                members = [f"{key}|{name}" for key in stale for name in names]
                await self._redis.hdel(self._events, *stale)
                if members:
                    await self._redis.hdel(self._deliveries, *members)

    async def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """Deliveries with their event, newest first (the dashboard's list)."""
        states = [json.loads(v) for v in (await self._redis.hgetall(self._deliveries)).values()]
        events = await self._redis.hgetall(self._events)
        rows = []
        for state in states:
            raw = events.get(state.get("event", ""))
            if raw:
                rows.append({**state, "event": json.loads(raw)})
        rows.sort(key=lambda row: row["event"]["at"], reverse=True)
        return rows[:limit]
