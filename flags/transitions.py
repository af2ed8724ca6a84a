"""Which mode changes are allowed, as a pure function of (state, change, actor).

The migration's state is the kill switch, the mode variant and the rollout percentage.
Changes, and when they are allowed:

| change | allowed when | needs |
| --- | --- | --- |
| emergency rollback (kill switch on) | always, by anyone (idempotent) | a reason |
| leave emergency rollback | kill switch on | a human actor and a reason |
| set mode A -> B | kill switch off, B in ``MODE_STEPS[A]`` | a reason |
| set mode A -> B, B not a step of A | kill switch off | ``force`` and a reason |
| set rollout percentage | kill switch off, 0 <= p <= 100 | a reason |

``MODE_STEPS`` walks the migration one step at a time: typescript_only <-> parallel <-> gradual
<-> python_only, with a direct way back to typescript_only from every mode. Going forward from
typescript_only is only to parallel: python runs in shadow before it acts on any issue
(typescript_only -> gradual skips that step and needs ``force``). A watchdog may only roll back:
every other change needs a human.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flags.model import Mode

__all__ = [
    "MODE_STEPS",
    "Actor",
    "ActorKind",
    "Change",
    "ChangeKind",
    "MigrationState",
    "TransitionRefused",
    "check_transition",
]

MODE_STEPS: dict[Mode, frozenset[Mode]] = {
    Mode.TYPESCRIPT_ONLY: frozenset({Mode.PARALLEL}),
    Mode.PARALLEL: frozenset({Mode.TYPESCRIPT_ONLY, Mode.GRADUAL}),
    Mode.GRADUAL: frozenset({Mode.TYPESCRIPT_ONLY, Mode.PARALLEL, Mode.PYTHON_ONLY}),
    Mode.PYTHON_ONLY: frozenset({Mode.TYPESCRIPT_ONLY, Mode.GRADUAL}),
}


class ActorKind(StrEnum):
    HUMAN = "human"
    WATCHDOG = "watchdog"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for a change, and through what (cli, dashboard, watchdog, api, unleash)."""

    name: str
    kind: ActorKind
    source: str


@dataclass(frozen=True, slots=True)
class MigrationState:
    mode: Mode  # the variant of migration-mode
    rollout: int  # python-agent-rollout percentage
    kill_switch: bool

    @property
    def effective_mode(self) -> Mode:
        return Mode.EMERGENCY_ROLLBACK if self.kill_switch else self.mode

    def describe(self) -> str:
        if self.kill_switch:
            return f"emergency_rollback (mode {self.mode.value} underneath, {self.rollout}%)"
        return f"{self.mode.value} at {self.rollout}%"


class ChangeKind(StrEnum):
    ROLLBACK = "rollback"
    LEAVE_ROLLBACK = "leave_rollback"
    SET_MODE = "set_mode"
    SET_ROLLOUT = "set_rollout"


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    mode: Mode | None = None  # for SET_MODE and LEAVE_ROLLBACK
    rollout: int | None = None  # for SET_ROLLOUT
    force: bool = False


class TransitionRefused(ValueError):
    """The change is not allowed from the current state; the message says why."""


def _require_reason(reason: str) -> None:
    if not reason.strip():
        raise TransitionRefused("a reason is required for every change")


def check_transition(
    state: MigrationState, change: Change, *, actor: Actor, reason: str
) -> MigrationState:
    """The state after ``change``, or :class:`TransitionRefused` saying why not."""
    _require_reason(reason)
    if change.kind is ChangeKind.ROLLBACK:
        return MigrationState(state.mode, state.rollout, kill_switch=True)
    if actor.kind is not ActorKind.HUMAN:
        raise TransitionRefused(f"a {actor.kind.value} may only roll back; ask a human")
    if change.kind is ChangeKind.LEAVE_ROLLBACK:
        if not state.kill_switch:
            raise TransitionRefused("not in emergency rollback")
        back_to = change.mode or state.mode
        if back_to is Mode.EMERGENCY_ROLLBACK:
            raise TransitionRefused("leaving emergency rollback needs a mode to go to")
        return MigrationState(back_to, state.rollout, kill_switch=False)
    if state.kill_switch:
        raise TransitionRefused(
            "the kill switch is on: leave emergency rollback first (switchyard rollback --leave)"
        )
    if change.kind is ChangeKind.SET_ROLLOUT:
        if change.rollout is None or not 0 <= change.rollout <= 100:
            raise TransitionRefused(f"rollout must be 0..100, got {change.rollout}")
        return MigrationState(state.mode, change.rollout, kill_switch=False)
    wanted = change.mode
    if wanted is None or wanted is Mode.EMERGENCY_ROLLBACK:
        raise TransitionRefused("use rollback to enter emergency rollback")
    target: Mode = wanted
    if target is not state.mode and target not in MODE_STEPS[state.mode] and not change.force:
        steps = ", ".join(sorted(mode.value for mode in MODE_STEPS[state.mode]))
        raise TransitionRefused(
            f"{state.mode.value} -> {target.value} skips a step (allowed: {steps}); "
            "use --force with a reason to do it anyway"
        )
    return MigrationState(target, state.rollout, kill_switch=False)
