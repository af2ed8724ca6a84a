"""The plan controller's decision: a pure function of (plan, state, evidence, observation, clock).

In this order, the first that applies:

1. the plan is over (finished, rolled back, aborted): ``idle``;
2. the kill switch is on, or the watchdog's verdict says roll back: ``roll_back`` (the plan stops
   and says why; the switch is turned on through the watchdog's own path);
3. paused by a person: ``idle``;
4. the rollout or mode in Unleash is not what the plan last set (changed by hand, in the CLI, the
   dashboard or the Unleash UI): ``pause``, saying who changed what;
5. stalled (inconclusive past the extension): ``idle`` until a person resumes or aborts;
6. at the last step (100 %) with ``final_mode: gradual``: ``finish``;
7. the step's minimum dwell or sample not reached, or a rate's non-inferiority not shown:
   ``hold``, listing what is missing; past the step's deadline (dwell + extension) ``stall``
   (notify and wait for a person, never loop silently, never advance on a short sample);
8. the step's gate wants an approval nobody gave: ``await_approval``;
9. outside the promotion windows or in a freeze: ``hold`` (a rollback is never held);
10. otherwise ``advance`` to the next step's percentage (or, from 100 %, to ``python_only``).

The tests run on the counts since the step started, at the plan's per-step alpha
(:attr:`~service.plan.model.Plan.step_alpha`); see :mod:`service.outcomes.noninferiority`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flags.model import Mode
from service.outcomes.noninferiority import NonInferiority, non_inferiority
from service.outcomes.stats import Rate
from service.plan.model import FinalMode, Gate, Plan

__all__ = [
    "Action",
    "Decision",
    "Observation",
    "PlanState",
    "Rates",
    "Status",
    "StepEvidence",
    "decide",
]


class Status(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STALLED = "stalled"  # inconclusive past the extension: a person resumes or aborts
    FINISHED = "finished"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"

    @property
    def over(self) -> bool:
        return self in (Status.FINISHED, Status.ROLLED_BACK, Status.ABORTED)


class Action(StrEnum):
    ADVANCE = "advance"
    FINISH = "finish"
    HOLD = "hold"
    STALL = "stall"
    AWAIT_APPROVAL = "await_approval"
    PAUSE = "pause"
    ROLL_BACK = "roll_back"
    IDLE = "idle"


@dataclass(frozen=True, slots=True)
class PlanState:
    """Where a plan stands; ``expected_*`` is what the plan last wrote to Unleash."""

    status: Status
    step: int  # index into plan.steps
    step_started_at: float
    deadline: float  # the step stalls when still inconclusive at this moment
    expected_mode: Mode
    expected_rollout: int
    approvals: Mapping[int, str] = field(default_factory=dict)  # step index -> approver
    note: str = ""  # why paused, stalled or over, in words


@dataclass(frozen=True, slots=True)
class Rates:
    success: Rate = field(default_factory=Rate)
    pr: Rate = field(default_factory=Rate)  # merged out of closed
    build: Rate = field(default_factory=Rate)  # passed out of concluded check suites

    @property
    def outcomes(self) -> int:
        return self.pr.trials + self.build.trials


@dataclass(frozen=True, slots=True)
class StepEvidence:
    """Both systems' acting outcomes counted since the step started."""

    python: Rates = field(default_factory=Rates)
    typescript: Rates = field(default_factory=Rates)


@dataclass(frozen=True, slots=True)
class Observation:
    """The migration as Unleash holds it now, and what else the controller knows."""

    mode: Mode
    rollout: int
    kill_switch: bool = False
    changed_by: str = "someone"  # the latest hand change's author, from the audit trail
    rollback_reason: str | None = None  # the watchdog's verdict, when it says roll back


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    missing: tuple[str, ...] = ()
    target_rollout: int | None = None
    target_mode: Mode | None = None
    tests: tuple[tuple[str, NonInferiority], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "reason": self.reason,
            "missing": list(self.missing),
            "target_rollout": self.target_rollout,
            "target_mode": None if self.target_mode is None else self.target_mode.value,
            "tests": {name: test.as_dict() for name, test in self.tests},
        }


def decide(
    plan: Plan, state: PlanState, evidence: StepEvidence, seen: Observation, now: float
) -> Decision:
    """The controller's next move (see the module docstring for the order)."""
    if state.status.over:
        return Decision(Action.IDLE, f"plan {state.status.value}: {state.note}".rstrip(": "))
    if seen.kill_switch or seen.rollback_reason is not None:
        why = seen.rollback_reason or "the kill switch is on"
        return Decision(Action.ROLL_BACK, f"rolled back: {why}")
    if state.status is Status.PAUSED:
        return Decision(Action.IDLE, f"paused: {state.note}")
    changed = _hand_change(state, seen)
    if changed:
        return Decision(Action.PAUSE, f"{changed} by {seen.changed_by}: the plan pauses")
    if state.status is Status.STALLED:
        return Decision(Action.IDLE, f"stalled, waiting for a person: {state.note}")
    last = state.step == len(plan.steps) - 1
    if last and plan.final_mode is FinalMode.GRADUAL:
        return Decision(Action.FINISH, "python serves 100 % of new issues")
    step = plan.steps[state.step]
    missing = _short(plan, state, evidence, now)
    tests = () if last else _tests(plan, evidence)
    missing += [f"{name}: {_inconclusive(test)}" for name, test in tests if not test.passed]
    if not last and not any(name == "success_rate" for name, _ in tests):
        missing.append(f"success_rate: fewer than {plan.min_rate_samples} on a side")
    if missing:
        action = Action.STALL if now >= state.deadline else Action.HOLD
        why = "inconclusive past the extension" if action is Action.STALL else "waiting"
        return Decision(action, f"{why}: {'; '.join(missing)}", tuple(missing), tests=tests)
    if step.gate is Gate.APPROVAL and state.step not in state.approvals:
        return Decision(Action.AWAIT_APPROVAL, "evidence met; approval required", tests=tests)
    closed = plan.windows.closed_because(dt.datetime.fromtimestamp(now, dt.UTC))
    if closed:
        return Decision(Action.HOLD, f"evidence met; {closed}", (closed,), tests=tests)
    if last:
        return Decision(
            Action.ADVANCE, "100 % held its ground", target_mode=Mode.PYTHON_ONLY, tests=tests
        )
    target = plan.steps[state.step + 1].percentage
    reason = f"python no worse than typescript by {plan.margin:g}: {step.percentage} -> {target} %"
    return Decision(Action.ADVANCE, reason, target_rollout=target, tests=tests)


def _hand_change(state: PlanState, seen: Observation) -> str:
    changes = []
    if seen.mode is not state.expected_mode:
        changes.append(f"mode changed {state.expected_mode.value} -> {seen.mode.value}")
    if seen.rollout != state.expected_rollout:
        changes.append(f"rollout changed {state.expected_rollout} -> {seen.rollout} %")
    return ", ".join(changes)


def _short(plan: Plan, state: PlanState, evidence: StepEvidence, now: float) -> list[str]:
    step, python = plan.steps[state.step], evidence.python
    missing = []
    dwell_left = state.step_started_at + step.min_dwell_seconds - now
    if dwell_left > 0:
        missing.append(f"dwell: {_duration(dwell_left)} more")
    if python.success.trials < step.min_completions:
        more = step.min_completions - python.success.trials
        missing.append(f"{more} more acting python completions")
    if python.outcomes < step.min_outcomes:
        missing.append(f"{step.min_outcomes - python.outcomes} more python PR/CI outcomes")
    return missing


def _tests(plan: Plan, evidence: StepEvidence) -> tuple[tuple[str, NonInferiority], ...]:
    """Each rate with enough outcomes on both sides, tested at the step's alpha."""
    python, typescript = evidence.python, evidence.typescript
    pairs = (
        ("success_rate", python.success, typescript.success),
        ("pr_acceptance", python.pr, typescript.pr),
        ("build_success", python.build, typescript.build),
    )
    return tuple(
        (
            name,
            non_inferiority(
                (mine.successes, mine.trials),
                (theirs.successes, theirs.trials),
                margin=plan.margin,
                alpha=plan.step_alpha,
            ),
        )
        for name, mine, theirs in pairs
        if min(mine.trials, theirs.trials) >= plan.min_rate_samples
    )


def _inconclusive(test: NonInferiority) -> str:
    low, high = test.low, test.high
    return f"not yet shown within {test.margin:g} (difference in [{low:+.3f}, {high:+.3f}])"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
