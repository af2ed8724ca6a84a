"""The controller's pure decision, branch by branch, with literal inputs and outcomes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from flags.model import Mode
from service.outcomes.stats import Rate
from service.plan.decision import (
    Action,
    Decision,
    Observation,
    PlanState,
    Rates,
    Status,
    StepEvidence,
    decide,
)
from service.plan.model import Plan, parse_plan

START = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC).timestamp()  # a Monday, 10:00 UTC
HOUR = 3600.0

PLAN = parse_plan(
    {
        "steps": [
            {
                "percentage": 10,
                "min_completions": 100,
                "min_outcomes": 20,
                "min_dwell_seconds": HOUR,
            },
            {"percentage": 50, "gate": "approval", "min_dwell_seconds": HOUR},
            {"percentage": 100, "min_completions": 10, "min_outcomes": 0, "min_dwell_seconds": 0},
        ],
        "extension_seconds": 2 * HOUR,
    }
)

GOOD = StepEvidence(
    python=Rates(Rate(1700, 2000), Rate(2550, 3000), Rate(2550, 3000)),
    typescript=Rates(Rate(17000, 20000), Rate(25500, 30000), Rate(25500, 30000)),
)
SEEN = Observation(mode=Mode.GRADUAL, rollout=10)


def state(step: int = 0, **changes: object) -> PlanState:
    rollout = PLAN.steps[step].percentage
    base = PlanState(
        status=Status.RUNNING,
        step=step,
        step_started_at=START,
        deadline=START + 3 * HOUR,
        expected_mode=Mode.GRADUAL,
        expected_rollout=rollout,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def seen(rollout: int = 10, **changes: object) -> Observation:
    return dataclasses.replace(SEEN, rollout=rollout, **changes)  # type: ignore[arg-type]


def test_advances_when_evidence_dwell_and_sample_are_met() -> None:
    decision = decide(PLAN, state(), GOOD, SEEN, START + HOUR)
    assert decision.action is Action.ADVANCE
    assert decision.target_rollout == 50
    assert decision.reason == "python no worse than typescript by 0.05: 10 -> 50 %"
    assert [name for name, _ in decision.tests] == [
        "success_rate",
        "pr_acceptance",
        "build_success",
    ]
    assert decision.as_dict()["tests"]["success_rate"]["passed"] is True


def test_holds_during_the_dwell_and_says_how_long() -> None:
    decision = decide(PLAN, state(), GOOD, SEEN, START + HOUR - 90)
    assert decision.action is Action.HOLD
    assert decision.missing == ("dwell: 2 min more",)
    assert decide(PLAN, state(), GOOD, SEEN, START).missing == ("dwell: 1.0 h more",)
    assert decide(PLAN, state(), GOOD, SEEN, START + HOUR - 5).missing == ("dwell: 5 s more",)


def test_holds_on_a_short_sample_however_good_it_looks() -> None:
    few = StepEvidence(
        python=Rates(Rate(99, 99), Rate(5, 5), Rate(5, 5)), typescript=GOOD.typescript
    )
    decision = decide(PLAN, state(), few, SEEN, START + HOUR)
    assert decision.action is Action.HOLD
    assert decision.missing[:2] == (
        "1 more acting python completions",
        "10 more python PR/CI outcomes",
    )


def test_holds_when_the_test_is_inconclusive_and_names_the_rate() -> None:
    unsure = dataclasses.replace(GOOD, python=dataclasses.replace(GOOD.python, pr=Rate(160, 200)))
    decision = decide(PLAN, state(), unsure, SEEN, START + HOUR)
    assert decision.action is Action.HOLD
    assert len(decision.missing) == 1
    assert decision.missing[0].startswith("pr_acceptance: not yet shown within 0.05")


def test_a_rate_with_too_few_outcomes_is_not_tested() -> None:
    no_prs = dataclasses.replace(GOOD, python=dataclasses.replace(GOOD.python, pr=Rate(10, 29)))
    decision = decide(PLAN, state(), no_prs, SEEN, START + HOUR)
    assert decision.action is Action.ADVANCE
    assert [name for name, _ in decision.tests] == ["success_rate", "build_success"]


def test_success_rate_must_always_be_tested() -> None:
    plan = dataclasses.replace(PLAN, min_rate_samples=5000)
    decision = decide(plan, state(), GOOD, SEEN, START + HOUR)
    assert decision.action is Action.HOLD
    assert decision.missing == ("success_rate: fewer than 5000 on a side",)


def test_stalls_when_still_inconclusive_at_the_deadline() -> None:
    decision = decide(PLAN, state(), StepEvidence(), SEEN, START + 3 * HOUR)
    assert decision.action is Action.STALL
    assert decision.reason.startswith("inconclusive past the extension: 100 more acting")


def test_python_worse_never_advances_even_past_the_deadline() -> None:
    worse = dataclasses.replace(
        GOOD, python=Rates(Rate(1500, 2000), GOOD.python.pr, GOOD.python.build)
    )
    assert decide(PLAN, state(), worse, SEEN, START + HOUR).action is Action.HOLD
    assert decide(PLAN, state(), worse, SEEN, START + 9 * HOUR).action is Action.STALL


def test_a_gate_waits_for_approval_then_advances() -> None:
    at_50 = state(step=1)
    decision = decide(PLAN, at_50, GOOD, seen(50), START + HOUR)
    assert decision.action is Action.AWAIT_APPROVAL
    approved = dataclasses.replace(at_50, approvals={1: "carol"})
    decision = decide(PLAN, approved, GOOD, seen(50), START + HOUR)
    assert (decision.action, decision.target_rollout) == (Action.ADVANCE, 100)


def test_an_approval_for_another_step_does_not_open_this_gate() -> None:
    approved = state(step=1, approvals={0: "carol"})
    assert decide(PLAN, approved, GOOD, seen(50), START + HOUR).action is Action.AWAIT_APPROVAL


def test_outside_the_window_holds_without_stalling() -> None:
    plan = dataclasses.replace(
        PLAN, windows=parse_plan({"windows": {"hours": "09:00-10:30"}}).windows
    )
    late = START + 9 * HOUR  # 19:00, past the deadline too
    decision = decide(plan, state(), GOOD, SEEN, late)
    assert decision.action is Action.HOLD
    assert decision.missing == ("outside the promotion hours (09:00-10:30 UTC)",)
    assert decide(plan, state(), GOOD, SEEN, START + 0.4 * HOUR + HOUR).action is Action.HOLD
    assert decide(plan, state(), GOOD, SEEN, START + 0.4 * HOUR).action is Action.HOLD  # dwell


def test_the_last_step_finishes_in_gradual() -> None:
    decision = decide(PLAN, state(step=2), StepEvidence(), seen(100), START)
    assert decision == Decision(Action.FINISH, "python serves 100 % of new issues")


def test_the_last_step_moves_to_python_only_on_sample_dwell_and_gate() -> None:
    plan = dataclasses.replace(
        PLAN, final_mode=parse_plan({"final_mode": "python_only"}).final_mode
    )
    last = state(step=2)
    assert decide(plan, last, StepEvidence(), seen(100), START).action is Action.HOLD
    decision = decide(plan, last, GOOD, seen(100), START)
    assert (decision.action, decision.target_mode) == (Action.ADVANCE, Mode.PYTHON_ONLY)
    assert decision.tests == ()


def test_a_hand_change_of_the_rollout_pauses_and_says_who() -> None:
    decision = decide(PLAN, state(), GOOD, seen(40, changed_by="dave (unleash)"), START + HOUR)
    assert decision.action is Action.PAUSE
    assert decision.reason == "rollout changed 10 -> 40 % by dave (unleash): the plan pauses"


def test_a_hand_change_of_the_mode_pauses() -> None:
    decision = decide(PLAN, state(), GOOD, seen(mode=Mode.PARALLEL), START)
    assert decision.action is Action.PAUSE
    assert decision.reason.startswith("mode changed gradual -> parallel by someone")


def test_a_hand_change_pauses_a_stalled_plan_too() -> None:
    stalled = state(status=Status.STALLED, note="inconclusive")
    assert decide(PLAN, stalled, GOOD, seen(25), START).action is Action.PAUSE
    assert decide(PLAN, stalled, GOOD, SEEN, START).reason == (
        "stalled, waiting for a person: inconclusive"
    )


@pytest.mark.parametrize("status", [Status.RUNNING, Status.PAUSED, Status.STALLED])
def test_the_kill_switch_rolls_back_whatever_the_status(status: Status) -> None:
    decision = decide(PLAN, state(status=status), GOOD, seen(kill_switch=True), START)
    assert decision == Decision(Action.ROLL_BACK, "rolled back: the kill switch is on")


def test_the_watchdogs_verdict_rolls_back_and_is_quoted() -> None:
    decision = decide(PLAN, state(), GOOD, seen(rollback_reason="python success_rate ..."), START)
    assert decision.reason == "rolled back: python success_rate ..."


def test_a_paused_plan_stays_paused_and_says_why() -> None:
    paused = state(status=Status.PAUSED, note="by erin: investigating")
    decision = decide(PLAN, paused, GOOD, seen(40), START + HOUR)
    assert decision == Decision(Action.IDLE, "paused: by erin: investigating")


@pytest.mark.parametrize("status", [Status.FINISHED, Status.ROLLED_BACK, Status.ABORTED])
def test_a_plan_that_is_over_does_nothing(status: Status) -> None:
    over = state(status=status)
    decision = decide(PLAN, over, GOOD, seen(kill_switch=True), START)
    assert decision == Decision(Action.IDLE, f"plan {status.value}")
    assert decide(PLAN, state(status=status, note="x"), GOOD, SEEN, START).reason == (
        f"plan {status.value}: x"
    )


def test_decision_as_dict_is_plain() -> None:
    decision = decide(PLAN, state(), StepEvidence(), SEEN, START)
    assert decision.as_dict() == {
        "action": "hold",
        "reason": decision.reason,
        "missing": list(decision.missing),
        "target_rollout": None,
        "target_mode": None,
        "tests": {},
    }


def test_plan_type_is_the_models() -> None:
    assert isinstance(PLAN, Plan)
