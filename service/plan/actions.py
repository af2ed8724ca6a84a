"""What people do to a plan: start, approve, pause, resume, abort. One code path for the CLI and
the dashboard; every action is a compare-and-set on the stored plan, a timeline entry and an audit
entry naming the person. Flag changes go through :class:`MigrationControl` only.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

from flags.model import Mode
from flags.transitions import Actor
from service.migration.audit import AuditEntry
from service.migration.control import MigrationControl
from service.plan.decision import PlanState, Status
from service.plan.errors import PlanConflict, PlanForbidden
from service.plan.model import Gate, Plan
from service.plan.store import PlanRecord, PlanStore

__all__ = ["STARTING", "PlanActions", "describe", "record_transition"]

# The last decision while the starter writes the first step's flags (rollout, then mode): the
# controller leaves such a plan alone (see ``PlanController.tick``) rather than take the
# half-written flags for a hand change.
STARTING = {"action": "start", "applied": False, "reason": "starting: writing the first step"}


def describe(record: PlanRecord | None) -> str:
    if record is None:
        return "no plan"
    state = record.state
    steps = len(record.plan.steps)
    where = f"step {state.step + 1}/{steps} ({state.expected_rollout}%)"
    return f"plan {state.status.value} at {where}"


async def record_transition(
    store: PlanStore,
    control: MigrationControl,
    before: PlanRecord | None,
    after: PlanRecord,
    *,
    event: str,
    actor: Actor,
    reason: str,
    evidence: dict[str, Any] | None = None,
) -> None:
    """The timeline and audit entries of a transition already written to the store."""
    await store.note(after, event, actor.name, reason, source=actor.source, evidence=evidence)
    await control.audit.record(
        AuditEntry(
            actor=actor.name,
            source=actor.source,
            change=f"plan_{event}",
            before=describe(before),
            after=describe(after),
            reason=reason,
            evidence=evidence,
        )
    )


class PlanActions:
    def __init__(
        self, *, store: PlanStore, control: MigrationControl, clock: Any = time.time
    ) -> None:
        self._store = store
        self._control = control
        self._clock = clock

    async def current(self) -> PlanRecord:
        record = await self._store.load()
        if record is None:
            raise PlanConflict("no plan has been started")
        return record

    async def _live(self) -> PlanRecord:
        record = await self.current()
        if record.state.status.over:
            raise PlanConflict(f"the plan is over ({record.state.status.value})")
        return record

    async def _write(
        self, before: PlanRecord | None, after: PlanRecord, *, event: str, actor: Actor, reason: str
    ) -> PlanRecord:
        if not reason.strip():
            raise PlanConflict("a reason is required")
        saved = await self._store.replace(after)
        if saved is None:
            raise PlanConflict("the plan changed meanwhile; look again and retry")
        await record_transition(
            self._store, self._control, before, saved, event=event, actor=actor, reason=reason
        )
        return saved

    async def start(self, plan: Plan, *, actor: Actor, reason: str) -> PlanRecord:
        """Claim the one plan slot, then set ``gradual`` at the first step's percentage."""
        existing = await self._store.load()
        if existing is not None and not existing.state.status.over:
            raise PlanConflict(
                f"a plan is already {existing.state.status.value} "
                f"(started by {existing.started_by})"
            )
        migration = await self._control.state()
        if migration.kill_switch:
            raise PlanConflict("the kill switch is on: leave emergency rollback first")
        if migration.mode is Mode.PYTHON_ONLY:
            raise PlanConflict("the mode is python_only already: nothing to roll out")
        now, first = self._clock(), plan.steps[0]
        state = PlanState(
            Status.RUNNING,
            0,
            now,
            now + first.min_dwell_seconds + plan.extension_seconds,
            Mode.GRADUAL,
            first.percentage,
        )
        record = PlanRecord(
            uuid.uuid4().hex[:12],
            plan,
            state,
            actor.name,
            now,
            last_decision=dict(STARTING),
            version=existing.version if existing else 0,
        )
        saved = await self._write(existing, record, event="started", actor=actor, reason=reason)
        why = f"plan {saved.id} started: {reason}"
        await self._control.set_rollout(first.percentage, actor=actor, reason=why)
        if migration.mode is not Mode.GRADUAL:
            await self._control.set_mode(Mode.GRADUAL, actor=actor, reason=why, force=True)
        # the flags are the plan's now: its ticks may judge them (a person acting meanwhile wins)
        return await self._store.replace(replace(saved, last_decision=None)) or saved

    async def approve(self, *, actor: Actor, reason: str, may_approve: bool = True) -> PlanRecord:
        """Open the current step's approval gate: four eyes (never the plan's starter)."""
        record = await self._live()
        step = record.state.step
        if not may_approve:
            raise PlanForbidden(f"{actor.name} may not approve (needs the approver role)")
        if actor.name == record.started_by:
            raise PlanForbidden(f"four eyes: {actor.name} started this plan and cannot approve it")
        if record.plan.steps[step].gate is not Gate.APPROVAL:
            raise PlanConflict(
                f"step {step + 1} ({record.plan.steps[step].percentage}%) has no approval gate"
            )
        if step in record.state.approvals:
            return record
        approvals = {**record.state.approvals, step: actor.name}
        after = record.with_state(approvals=approvals)
        return await self._write(record, after, event="approved", actor=actor, reason=reason)

    async def pause(self, *, actor: Actor, reason: str) -> PlanRecord:
        record = await self._live()
        if record.state.status is Status.PAUSED:
            return record
        after = record.with_state(status=Status.PAUSED, note=f"by {actor.name}: {reason}")
        return await self._write(record, after, event="paused", actor=actor, reason=reason)

    async def resume(self, *, actor: Actor, reason: str) -> PlanRecord:
        """Paused: the step starts over at its own percentage (set again if changed by hand).
        Stalled: the same step gets another extension."""
        record = await self._live()
        now, state = self._clock(), record.state
        step = record.plan.steps[state.step]
        if state.status is Status.STALLED:
            after = record.with_state(
                status=Status.RUNNING, deadline=now + record.plan.extension_seconds, note=""
            )
            return await self._write(record, after, event="resumed", actor=actor, reason=reason)
        if state.status is not Status.PAUSED:
            raise PlanConflict(f"the plan is {state.status.value}, not paused or stalled")
        migration = await self._control.state()
        if migration.kill_switch:
            raise PlanConflict("the kill switch is on: leave emergency rollback first")
        deadline = now + step.min_dwell_seconds + record.plan.extension_seconds
        after = record.with_state(
            status=Status.RUNNING, step_started_at=now, deadline=deadline, note=""
        )
        saved = await self._write(record, after, event="resumed", actor=actor, reason=reason)
        why = f"plan {record.id} resumed: {reason}"
        if migration.rollout != state.expected_rollout:
            await self._control.set_rollout(state.expected_rollout, actor=actor, reason=why)
        if migration.mode is not state.expected_mode:
            await self._control.set_mode(state.expected_mode, actor=actor, reason=why, force=True)
        return saved

    async def abort(self, *, actor: Actor, reason: str) -> PlanRecord:
        """The plan stops; the rollout stays where it is (change it, or roll back, by hand)."""
        record = await self._live()
        after = record.with_state(status=Status.ABORTED, note=f"by {actor.name}: {reason}")
        return await self._write(record, after, event="aborted", actor=actor, reason=reason)
