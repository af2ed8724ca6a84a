"""The transition table, exhaustively."""

from __future__ import annotations

import itertools

import pytest

from flags.model import Mode
from flags.transitions import (
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


# Written from the README's table ("one step: typescript_only <-> parallel <-> gradual <->
# python_only, or back to typescript_only"), not from MODE_STEPS: True = allowed without --force.
TS, PAR, GR, PY = Mode.TYPESCRIPT_ONLY, Mode.PARALLEL, Mode.GRADUAL, Mode.PYTHON_ONLY
DOCUMENTED_STEPS: dict[tuple[Mode, Mode], bool] = {
    (TS, TS): True,
    (TS, PAR): True,
    (TS, GR): False,  # skips parallel: python must run in shadow before it acts
    (TS, PY): False,
    (PAR, TS): True,
    (PAR, PAR): True,
    (PAR, GR): True,
    (PAR, PY): False,
    (GR, TS): True,
    (GR, PAR): True,
    (GR, GR): True,
    (GR, PY): True,
    (PY, TS): True,
    (PY, PAR): False,
    (PY, GR): True,
    (PY, PY): True,
}


def test_the_documented_table_covers_every_pair_of_modes() -> None:
    assert set(DOCUMENTED_STEPS) == set(itertools.product(Mode.variants(), Mode.variants()))


@pytest.mark.parametrize(("current", "target"), sorted(DOCUMENTED_STEPS))
def test_mode_changes_follow_the_documented_steps(current: Mode, target: Mode) -> None:
    state = MigrationState(current, 20, kill_switch=False)
    change = Change(ChangeKind.SET_MODE, mode=target)
    if DOCUMENTED_STEPS[(current, target)]:
        after = check_transition(state, change, actor=HUMAN, reason="step")
        assert after == MigrationState(target, 20, kill_switch=False)
    else:
        with pytest.raises(TransitionRefused, match="skips a step"):
            check_transition(state, change, actor=HUMAN, reason="step")
        forced = Change(ChangeKind.SET_MODE, mode=target, force=True)
        after = check_transition(state, forced, actor=HUMAN, reason="forced")
        assert after == MigrationState(target, 20, kill_switch=False)


def test_a_refused_step_names_the_allowed_ones() -> None:
    state = MigrationState(TS, 0, kill_switch=False)
    with pytest.raises(
        TransitionRefused,
        match=r"typescript_only -> gradual skips a step "
        r"\(allowed: parallel\)",
    ):
        check_transition(state, Change(ChangeKind.SET_MODE, mode=GR), actor=HUMAN, reason="x")


@pytest.mark.parametrize("rollout", [0, 1, 55, 99, 100])
def test_rollout_inside_zero_to_hundred_is_taken_as_asked(rollout: int) -> None:
    state = MigrationState(Mode.GRADUAL, 20, kill_switch=False)
    change = Change(ChangeKind.SET_ROLLOUT, rollout=rollout)
    after = check_transition(state, change, actor=HUMAN, reason="x")
    assert after == MigrationState(Mode.GRADUAL, rollout, kill_switch=False)


def test_rollout_without_a_percentage_is_refused() -> None:
    state = MigrationState(Mode.GRADUAL, 20, kill_switch=False)
    with pytest.raises(TransitionRefused, match=r"0\.\.100, got None"):
        check_transition(state, Change(ChangeKind.SET_ROLLOUT), actor=HUMAN, reason="x")


def test_leaving_rollback_without_a_mode_returns_to_the_mode_underneath() -> None:
    state = MigrationState(Mode.PARALLEL, 30, kill_switch=True)
    after = check_transition(state, Change(ChangeKind.LEAVE_ROLLBACK), actor=HUMAN, reason="ok")
    assert after == MigrationState(Mode.PARALLEL, 30, kill_switch=False)


def test_leaving_rollback_into_emergency_rollback_is_refused() -> None:
    state = MigrationState(Mode.PARALLEL, 30, kill_switch=True)
    leave = Change(ChangeKind.LEAVE_ROLLBACK, mode=Mode.EMERGENCY_ROLLBACK)
    with pytest.raises(TransitionRefused, match="needs a mode"):
        check_transition(state, leave, actor=HUMAN, reason="ok")


def test_a_rollback_needs_a_reason() -> None:
    state = MigrationState(Mode.GRADUAL, 30, kill_switch=False)
    with pytest.raises(TransitionRefused, match="reason is required"):
        check_transition(state, Change(ChangeKind.ROLLBACK), actor=WATCHDOG, reason=" \t")


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (MigrationState(Mode.GRADUAL, 25, kill_switch=False), "gradual at 25%"),
        (
            MigrationState(Mode.PARALLEL, 5, kill_switch=True),
            "emergency_rollback (mode parallel underneath, 5%)",
        ),
    ],
)
def test_state_descriptions(state: MigrationState, text: str) -> None:
    assert state.describe() == text


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


# The refusals are shown as they are (CLI, dashboard); each says what to do instead.
@pytest.mark.parametrize(
    ("state", "change", "message"),
    [
        (
            MigrationState(GR, 10, kill_switch=False),
            Change(ChangeKind.LEAVE_ROLLBACK),
            "not in emergency rollback",
        ),
        (
            MigrationState(GR, 10, kill_switch=True),
            Change(ChangeKind.LEAVE_ROLLBACK, mode=Mode.EMERGENCY_ROLLBACK),
            "leaving emergency rollback needs a mode to go to",
        ),
        (
            MigrationState(GR, 10, kill_switch=True),
            Change(ChangeKind.SET_ROLLOUT, rollout=20),
            "the kill switch is on: leave emergency rollback first (switchyard rollback --leave)",
        ),
        (
            MigrationState(GR, 10, kill_switch=False),
            Change(ChangeKind.SET_MODE, mode=Mode.EMERGENCY_ROLLBACK),
            "use rollback to enter emergency rollback",
        ),
        (
            MigrationState(GR, 10, kill_switch=False),
            Change(ChangeKind.SET_MODE),
            "use rollback to enter emergency rollback",
        ),
        (
            MigrationState(PY, 10, kill_switch=False),
            Change(ChangeKind.SET_MODE, mode=PAR),
            "python_only -> parallel skips a step (allowed: gradual, typescript_only); "
            "use --force with a reason to do it anyway",
        ),
        (
            MigrationState(GR, 10, kill_switch=False),
            Change(ChangeKind.SET_ROLLOUT, rollout=101),
            "rollout must be 0..100, got 101",
        ),
    ],
)
def test_refusals_say_exactly_why(state: MigrationState, change: Change, message: str) -> None:
    with pytest.raises(TransitionRefused) as caught:
        check_transition(state, change, actor=HUMAN, reason="x")
    assert str(caught.value) == message


def test_a_missing_reason_is_refused_before_anything_else() -> None:
    state = MigrationState(GR, 10, kill_switch=True)
    with pytest.raises(TransitionRefused) as caught:
        check_transition(state, Change(ChangeKind.SET_MODE, mode=PY), actor=WATCHDOG, reason="")
    assert str(caught.value) == "a reason is required for every change"
    with pytest.raises(TransitionRefused) as caught:
        check_transition(state, Change(ChangeKind.SET_MODE, mode=PY), actor=WATCHDOG, reason="x")
    assert str(caught.value) == "a watchdog may only roll back; ask a human"
