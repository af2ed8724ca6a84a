"""The one current plan in Redis, changed only by compare-and-set, and its timeline.

The record is a hash of ``version`` and ``record`` (JSON). Every change is a compare-and-set on
the version (one Lua script): of two processes that read the same version, one writes and the
other is told it lost, so a transition is never applied twice even if two watchdogs briefly both
believe they lead. The timeline is a capped list of every transition with its evidence; the same
transitions go to the audit trail (:class:`~service.migration.audit.AuditTrail`) and, with an
outbox, out as notifications (``plan_<event>``, attributed to the one who acted).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

from redis.asyncio import Redis

from flags.model import Mode
from service.keys import Keys
from service.notify.outbox import Notification, Outbox
from service.plan.decision import PlanState, Status
from service.plan.model import Plan, parse_plan

__all__ = ["PlanRecord", "PlanStore"]

_TIMELINE = 1_000

_CAS = """
local current = redis.call('HGET', KEYS[1], 'version') or '0'
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', tostring(tonumber(current) + 1), 'record', ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class PlanRecord:
    id: str
    plan: Plan
    state: PlanState
    started_by: str
    started_at: float
    last_decision: dict[str, Any] | None = None
    last_tick: float | None = None
    version: int = field(default=0, compare=False)

    def as_dict(self) -> dict[str, Any]:
        state = self.state
        return {
            "id": self.id,
            "plan": self.plan.as_dict(),
            "state": {
                "status": state.status.value,
                "step": state.step,
                "step_started_at": state.step_started_at,
                "deadline": state.deadline,
                "expected_mode": state.expected_mode.value,
                "expected_rollout": state.expected_rollout,
                "approvals": {str(step): name for step, name in state.approvals.items()},
                "note": state.note,
            },
            "started_by": self.started_by,
            "started_at": self.started_at,
            "last_decision": self.last_decision,
            "last_tick": self.last_tick,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any], version: int) -> PlanRecord:
        state = raw["state"]
        return cls(
            id=raw["id"],
            plan=parse_plan(raw["plan"]),
            state=PlanState(
                status=Status(state["status"]),
                step=int(state["step"]),
                step_started_at=float(state["step_started_at"]),
                deadline=float(state["deadline"]),
                expected_mode=Mode(state["expected_mode"]),
                expected_rollout=int(state["expected_rollout"]),
                approvals={int(step): str(name) for step, name in state["approvals"].items()},
                note=str(state.get("note", "")),
            ),
            started_by=raw["started_by"],
            started_at=float(raw["started_at"]),
            last_decision=raw.get("last_decision"),
            last_tick=raw.get("last_tick"),
            version=version,
        )

    def with_state(self, **changes: Any) -> PlanRecord:
        return replace(self, state=replace(self.state, **changes))


class PlanStore:
    def __init__(self, redis: Redis, *, prefix: str, outbox: Outbox | None = None) -> None:
        self._redis = redis
        self._outbox = outbox
        self.key = Keys(prefix).plan_current
        self.timeline_key = Keys(prefix).plan_timeline
        self._cas = redis.register_script(_CAS)

    async def load(self) -> PlanRecord | None:
        fields = await self._redis.hgetall(self.key)
        if not fields.get("record"):
            return None
        return PlanRecord.from_dict(json.loads(fields["record"]), int(fields["version"]))

    async def replace(self, record: PlanRecord) -> PlanRecord | None:
        """Write ``record`` if the stored version is still ``record.version``; the stored record,
        or None when another writer came first (nothing was written)."""
        payload = json.dumps(record.as_dict())
        written = await self._cas(keys=[self.key], args=[str(record.version), payload])
        return replace(record, version=record.version + 1) if written else None

    async def note(
        self, record: PlanRecord, event: str, actor: str, reason: str, **extra: Any
    ) -> None:
        """Add a transition to the timeline (newest first, capped)."""
        entry = {
            "at": time.time(),
            "plan": record.id,
            "event": event,
            "actor": actor,
            "reason": reason,
            "status": record.state.status.value,
            "step": record.state.step,
            "rollout": record.state.expected_rollout,
            **extra,
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.timeline_key, json.dumps(entry))
            pipe.ltrim(self.timeline_key, 0, _TIMELINE - 1)
            await pipe.execute()
        if self._outbox is not None:
            state = record.state
            where = f"step {state.step + 1}/{len(record.plan.steps)} at {state.expected_rollout}%"
            text = f"Switchyard plan {record.id} {event.replace('_', ' ')}, {where}: {reason}"
            await self._outbox.publish(Notification(f"plan_{event}", text, actor, entry))

    async def timeline(self, limit: int = 50) -> list[dict[str, Any]]:
        return [
            json.loads(item) for item in await self._redis.lrange(self.timeline_key, 0, limit - 1)
        ]
