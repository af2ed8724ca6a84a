"""The rollout plan on the dashboard: its timeline card and its actions.

:func:`plan_card` is what the ``_plan.html`` template shows: the steps (done, current, next),
the current step's evidence and what it waits for, the next decision, the timeline and the
notifications' deliveries. :func:`perform_plan_action` runs start/approve/pause/resume/abort through
:class:`~service.plan.actions.PlanActions`, the CLI's code (and start, with the plan's JSON or
the defaults), as the logged-in person: approving
needs the approver role and a person's own token (the shared admin token never approves), and
the plan's starter cannot approve it (four eyes); each refusal is a 403. Each action is
published to the notification outbox under the person's name; the watchdog delivers it.
"""

from __future__ import annotations

from typing import Any

from flags.transitions import Actor, ActorKind
from service.dashboard.credentials import Identity
from service.json_input import load_json
from service.migration.control import MigrationControl
from service.notify.outbox import Outbox
from service.plan.actions import PlanActions
from service.plan.errors import PlanConflict, PlanForbidden
from service.plan.model import parse_plan
from service.plan.store import PlanRecord, PlanStore
from service.runtime import Runtime

__all__ = ["PLAN_ACTIONS", "perform_plan_action", "plan_card"]

PLAN_ACTIONS = ("start", "approve", "pause", "resume", "abort")
_MAX_REASON = 500


def _steps(record: PlanRecord) -> list[dict[str, Any]]:
    state = record.state
    rows = []
    for index, step in enumerate(record.plan.steps):
        where = "done" if index < state.step else "current" if index == state.step else "next"
        if state.status.value == "finished" and index == state.step:
            where = "done"
        rows.append(
            {
                "percentage": step.percentage,
                "where": where,
                "gate": step.gate.value,
                "approved_by": state.approvals.get(index),
                "min_completions": step.min_completions,
                "min_outcomes": step.min_outcomes,
                "min_dwell_hours": step.min_dwell_seconds / 3600,
            }
        )
    return rows


async def plan_card(runtime: Runtime) -> dict[str, Any] | None:
    """The plan's card, or None when no plan was ever started."""
    store = PlanStore(runtime.redis, prefix=runtime.prefix)
    record = await store.load()
    if record is None:
        return None
    decision = record.last_decision or {}
    return {
        "id": record.id,
        "status": record.state.status.value,
        "note": record.state.note,
        "started_by": record.started_by,
        "started_at": record.started_at,
        "steps": _steps(record),
        "deadline": record.state.deadline,
        "step_started_at": record.state.step_started_at,
        "decision": decision,
        "tests": decision.get("tests", {}),
        "last_tick": record.last_tick,
        "timeline": await store.timeline(15),
        "notifications": await Outbox(runtime.redis, prefix=runtime.prefix).recent(10),
    }


async def perform_plan_action(
    runtime: Runtime, action: str, form: dict[str, str], *, caller: Identity, source: str
) -> str:
    """Do ``action`` as ``caller``; the line for the page. Raises the plan's errors (409/403)."""
    if action == "approve" and caller.shared:
        raise PlanForbidden(
            f"the shared {caller.name} token never approves: log in with your own token"
        )
    reason = " ".join(form.get("reason", "").split())[:_MAX_REASON]
    if not reason:
        raise PlanConflict("a reason is required")
    actor = Actor(caller.name, ActorKind.HUMAN, source)
    control = MigrationControl(admin=runtime.admin(), redis=runtime.redis, prefix=runtime.prefix)
    outbox = Outbox(runtime.redis, prefix=runtime.prefix)  # the watchdog delivers to each receiver
    store = PlanStore(runtime.redis, prefix=runtime.prefix, outbox=outbox)
    actions = PlanActions(store=store, control=control)
    if action == "start":  # ``plan``: the plan's JSON (flags as code); empty: the defaults
        raw = form.get("plan", "").strip()
        plan = parse_plan(load_json(raw, what="plan") if raw else {})
        record = await actions.start(plan, actor=actor, reason=reason)
    elif action == "approve":
        record = await actions.approve(actor=actor, reason=reason, may_approve=caller.may_approve)
    elif action == "pause":
        record = await actions.pause(actor=actor, reason=reason)
    elif action == "resume":
        record = await actions.resume(actor=actor, reason=reason)
    else:
        record = await actions.abort(actor=actor, reason=reason)
    return f"Plan {record.id}: {action} done, now {record.state.status.value}."
