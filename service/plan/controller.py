"""The plan controller: one tick of the plan, run by the watchdog leader after its own verdict.

Each tick reads the stored plan, the migration's state from Unleash (admin API), the step's
evidence (:class:`~service.plan.evidence.EvidenceSource`) and the watchdog's verdict, asks the
pure :func:`~service.plan.decision.decide`, and applies the answer:

* ``advance``: the new step is claimed in the store first (compare-and-set: of two watchdogs
  only one wins), then the rollout (or ``python_only``) is written through
  :class:`MigrationControl`, on the starter's authority, with the decision as the audit evidence.
  If the write fails the claim says so (``applied: false``) and the next tick writes it again
  rather than mistaking the difference for a hand change;
* ``pause`` / ``stall`` / ``finish`` / ``roll_back``: the status changes, with the reason;
* ``hold`` / ``await_approval``: the decision is stored for the dashboard and CLI; the timeline
  gets an entry only when what the plan waits for changes, not at every tick.

A plan whose starter is still writing the first step's flags (rollout, then mode) is left alone
for up to a minute, unless the watchdog says roll back: the half-written flags are no hand change.

A watchdog in dry-run mode does not roll back; its "would roll back" pauses the plan instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flags.model import Mode
from flags.transitions import Actor, ActorKind, MigrationState
from service.migration.control import MigrationControl
from service.plan.actions import STARTING, record_transition
from service.plan.decision import Action, Decision, Observation, Status, decide
from service.plan.evidence import EvidenceSource
from service.plan.store import PlanRecord, PlanStore
from service.watchdog.verdict import Verdict

__all__ = ["PlanController", "plan_actor"]

_HAND_CHANGES = {"set_rollout", "set_mode"}
_START_GRACE = 60.0
_STATUS_AFTER = {
    Action.PAUSE: Status.PAUSED,
    Action.STALL: Status.STALLED,
    Action.FINISH: Status.FINISHED,
    Action.ROLL_BACK: Status.ROLLED_BACK,
}
_EVENTS = {
    Action.PAUSE: "paused",
    Action.STALL: "stalled",
    Action.FINISH: "finished",
    Action.ROLL_BACK: "rolled_back",
    Action.HOLD: "held",
    Action.AWAIT_APPROVAL: "awaiting_approval",
}


def _starting(record: PlanRecord, now: float) -> bool:
    """Started, the first step's flags not yet all written (for at most ``_START_GRACE``: a
    starter that died midway leaves flags the next tick judges as a hand change)."""
    last = record.last_decision or {}
    return (
        last.get("action") == STARTING["action"]
        and not last.get("applied", True)
        and now - record.started_at < _START_GRACE
    )


def plan_actor(record: PlanRecord) -> Actor:
    """The plan acts on its starter's authority; the audit trail says it was the plan."""
    return Actor(f"plan {record.id} (started by {record.started_by})", ActorKind.HUMAN, "plan")


class PlanController:
    def __init__(
        self,
        *,
        store: PlanStore,
        control: MigrationControl,
        evidence: EvidenceSource,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._control = control
        self._evidence = evidence
        self._clock = clock

    async def tick(
        self, verdict: Verdict | None = None, *, dry_run: bool = False
    ) -> Decision | None:
        """One round; None when no plan is live or another writer changed it meanwhile."""
        record = await self._store.load()
        if record is None or record.state.status.over:
            return None
        if _starting(record, self._clock()) and not (verdict and verdict.rollback):
            return None  # its starter is still writing the first step's flags
        migration = await self._control.state()
        if await self._reapply(record, migration):
            migration = await self._control.state()
        now = self._clock()
        if dry_run and verdict is not None and verdict.rollback:
            reason = "the watchdog (dry run) would roll back: " + "; ".join(verdict.reasons)
            decision = Decision(Action.PAUSE, reason)
        else:
            rollback = "; ".join(verdict.reasons) if verdict and verdict.rollback else None
            seen = Observation(
                mode=migration.mode,
                rollout=migration.rollout,
                kill_switch=migration.kill_switch,
                changed_by=await self._changed_by(record, migration),
                rollback_reason=rollback,
            )
            evidence = await self._evidence.since(record.state.step_started_at)
            decision = decide(record.plan, record.state, evidence, seen, now)
        if await self._apply(record, decision, now):
            return decision
        return None

    async def _reapply(self, record: PlanRecord, migration: MigrationState) -> bool:
        """Write an advance the store claimed but Unleash did not get (a failed write)."""
        last = record.last_decision or {}
        if last.get("action") != Action.ADVANCE.value or last.get("applied", True):
            return False
        if migration.kill_switch:
            return False
        await self._write_flags(
            record, record.state.expected_mode, record.state.expected_rollout, last
        )
        stored = replace(record, last_decision={**last, "applied": True})
        await self._store.replace(stored)
        return True

    async def _changed_by(self, record: PlanRecord, migration: MigrationState) -> str:
        state = record.state
        if migration.rollout == state.expected_rollout and migration.mode is state.expected_mode:
            return "someone"
        await self._control.import_unleash_changes()
        for entry in await self._control.audit.recent(20):
            if entry.change in _HAND_CHANGES and entry.source != "plan":
                return f"{entry.actor} ({entry.source})"
        return "someone"

    async def _apply(self, record: PlanRecord, decision: Decision, now: float) -> bool:
        summary: dict[str, Any] = decision.as_dict()
        if decision.action is Action.ADVANCE:
            return await self._advance(record, decision, summary, now)
        status = _STATUS_AFTER.get(decision.action)
        after = replace(record, last_decision=summary, last_tick=now)
        if status is not None:
            after = after.with_state(status=status, note=decision.reason)
        saved = await self._store.replace(after)
        if saved is None:
            return False
        previous = (record.last_decision or {}).get("action")
        event = _EVENTS.get(decision.action)
        if event and (status is not None or previous != decision.action.value):
            await record_transition(
                self._store, self._control, record, saved,
                event=event, actor=plan_actor(record), reason=decision.reason, evidence=summary,
            )  # fmt: skip
        return True

    async def _advance(
        self, record: PlanRecord, decision: Decision, summary: dict[str, Any], now: float
    ) -> bool:
        plan, state = record.plan, record.state
        if decision.target_mode is Mode.PYTHON_ONLY:
            after = record.with_state(
                status=Status.FINISHED, expected_mode=Mode.PYTHON_ONLY, note=decision.reason
            )
            event = "finished"
        else:
            step = plan.steps[state.step + 1]
            after = record.with_state(
                step=state.step + 1,
                step_started_at=now,
                deadline=now + step.min_dwell_seconds + plan.extension_seconds,
                expected_rollout=step.percentage,
                note="",
            )
            event = "advanced"
        claimed = await self._store.replace(
            replace(after, last_decision={**summary, "applied": False}, last_tick=now)
        )
        if claimed is None:  # another watchdog advanced (or a person acted) first
            return False
        await self._write_flags(
            claimed, claimed.state.expected_mode, claimed.state.expected_rollout, summary
        )
        applied = await self._store.replace(
            replace(claimed, last_decision={**summary, "applied": True})
        )
        await record_transition(
            self._store, self._control, record, applied or claimed,
            event=event, actor=plan_actor(record), reason=decision.reason, evidence=summary,
        )  # fmt: skip
        return True

    async def _write_flags(
        self, record: PlanRecord, mode: Mode, rollout: int, evidence: dict[str, Any]
    ) -> None:
        actor, reason = plan_actor(record), str(evidence.get("reason", "plan advance"))
        current = await self._control.state()
        if current.rollout != rollout:
            await self._control.set_rollout(rollout, actor=actor, reason=reason, evidence=evidence)
        if current.mode is not mode:
            await self._control.set_mode(mode, actor=actor, reason=reason, evidence=evidence)
