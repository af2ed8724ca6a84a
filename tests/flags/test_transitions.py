"""The transition table, exhaustively."""

from __future__ import annotations

import itertools

import pytest

from flags.model import Mode
from flags.transitions import (
    MODE_STEPS,
    Actor,
    ActorKind,
    Change,
    ChangeKind,
    MigrationState,
    TransitionRefused,
    check_transition,
)

HUMAN = Actor("alice", ActorKind.HUMAN, "cli")
WATCHDOG = Actor("watchdog", ActorKind.WATCHDOG, "watchdog")
STATES = [
    MigrationState(mode, rollout, kill)
    for mode, rollout, kill in itertools.product(Mode.variants(), (0, 40, 100), (False, True))
]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("actor", [HUMAN, WATCHDOG])
def test_entering_emergency_rollback_is_always_allowed(state: MigrationState, actor: Actor) -> None:
    after = check_transition(state, Change(ChangeKind.ROLLBACK), actor=actor, reason="bad PRs")
    assert after.kill_switch is True
    assert (after.mode, after.rollout) == (state.mode, state.rollout)
    assert after.effective_mode is Mode.EMERGENCY_ROLLBACK


@pytest.mark.parametrize("state", [state for state in STATES if state.kill_switch])
def test_leaving_rollback_needs_a_human_and_a_reason(state: MigrationState) -> None:
    leave = Change(ChangeKind.LEAVE_ROLLBACK, mode=Mode.GRADUAL)
    with pytest.raises(TransitionRefused, match="only roll back"):
        check_transition(state, leave, actor=WATCHDOG, reason="looks fine")
    with pytest.raises(TransitionRefused, match="reason"):
        check_transition(state, leave, actor=HUMAN, reason="  ")
    after = check_transition(state, leave, actor=HUMAN, reason="fix deployed")
    assert after == MigrationState(Mode.GRADUAL, state.rollout, kill_switch=False)


def test_leaving_rollback_when_not_in_it_is_refused() -> None:
    state = MigrationState(Mode.GRADUAL, 10, kill_switch=False)
    with pytest.raises(TransitionRefused, match="not in emergency rollback"):
        check_transition(state, Change(ChangeKind.LEAVE_ROLLBACK), actor=HUMAN, reason="x")


@pytest.mark.parametrize(
    ("current", "target"), list(itertools.product(Mode.variants(), Mode.variants()))
)
def test_mode_changes_follow_the_step_table(current: Mode, target: Mode) -> None:
    state = MigrationState(current, 20, kill_switch=False)
    change = Change(ChangeKind.SET_MODE, mode=target)
    allowed = target is current or target in MODE_STEPS[current]
    if allowed:
        assert check_transition(state, change, actor=HUMAN, reason="step").mode is target
    else:
        with pytest.raises(TransitionRefused, match="skips a step"):
            check_transition(state, change, actor=HUMAN, reason="step")
        forced = Change(ChangeKind.SET_MODE, mode=target, force=True)
        assert check_transition(state, forced, actor=HUMAN, reason="forced").mode is target


def test_every_mode_can_go_straight_back_to_typescript() -> None:
    for mode in Mode.variants():
        assert mode is Mode.TYPESCRIPT_ONLY or Mode.TYPESCRIPT_ONLY in MODE_STEPS[mode]


@pytest.mark.parametrize(
    "change",
    [
        Change(ChangeKind.SET_MODE, mode=Mode.GRADUAL),
        Change(ChangeKind.SET_ROLLOUT, rollout=50),
    ],
)
def test_changes_are_refused_while_the_kill_switch_is_on(change: Change) -> None:
    state = MigrationState(Mode.PARALLEL, 20, kill_switch=True)
    with pytest.raises(TransitionRefused, match="kill switch is on"):
        check_transition(state, change, actor=HUMAN, reason="x")


@pytest.mark.parametrize("rollout", [-1, 101])
def test_rollout_outside_zero_to_hundred_is_refused(rollout: int) -> None:
    state = MigrationState(Mode.GRADUAL, 20, kill_switch=False)
    with pytest.raises(TransitionRefused, match=r"0\.\.100"):
        check_transition(
            state, Change(ChangeKind.SET_ROLLOUT, rollout=rollout), actor=HUMAN, reason="x"
        )


def test_watchdog_may_not_change_mode_or_rollout() -> None:
    state = MigrationState(Mode.GRADUAL, 20, kill_switch=False)
    for change in (
        Change(ChangeKind.SET_MODE, mode=Mode.TYPESCRIPT_ONLY),
        Change(ChangeKind.SET_ROLLOUT, rollout=0),
    ):
        with pytest.raises(TransitionRefused, match="only roll back"):
            check_transition(state, change, actor=WATCHDOG, reason="x")


def test_set_mode_to_emergency_rollback_is_refused() -> None:
    state = MigrationState(Mode.GRADUAL, 20, kill_switch=False)
    change = Change(ChangeKind.SET_MODE, mode=Mode.EMERGENCY_ROLLBACK)
    with pytest.raises(TransitionRefused, match="use rollback"):
        check_transition(state, change, actor=HUMAN, reason="x")
