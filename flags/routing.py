"""Routing: which system acts on an issue, given its flags and its current owner.

:func:`route` is pure: a :class:`~flags.source.FlagSnapshot` and the recorded owner in, a
frozen :class:`Decision` out. Reading flags, locking and recording ownership live elsewhere.

The documented table. First matching row wins; ``-`` is none/no, ``X`` an existing owner,
``?`` an unreadable flag::

    kill  mode             owner  rollout  acting      shadow      mode out            degraded
    ovr   any              any    any      typescript  -           emergency_rollback  -
    on    any              any    any      typescript  -           emergency_rollback  -
    bad   any              X      any      X           -           (mode or ts_only)   yes
    bad   any              -      any      typescript  -           (mode or ts_only)   yes
    ?     any              any    any      typescript  -           typescript_only     yes
    any   ?                any    any      typescript  -           typescript_only     yes
    off   parallel         X      any      X           X.other     parallel            -
    off   any other        X      any      X           -           (mode)              -
    off   typescript_only  -      any      typescript  -           typescript_only     -
    off   python_only      -      any      python      -           python_only         -
    off   gradual          -      on       python      -           gradual             -
    off   gradual          -      off      typescript  -           gradual             -
    off   gradual          -      ?        typescript  -           gradual             yes
    off   parallel         -      on       python      typescript  parallel            -
    off   parallel         -      off      typescript  python      parallel            -
    off   parallel         -      ?        typescript  python      parallel            yes

``bad`` is a configuration Switchyard cannot interpret (``FlagSnapshot.invalid``: an unknown
mode variant, a rollout without a percentage, a missing flag): the migration *holds*. New issues
go to typescript, owned issues stay with their owner, nothing is handed back or shadowed; only
the kill switch (still read when only the mode is bad) hands issues back. ``?`` is a flag that
cannot be read at all (no flags known): the typescript-only fallback.

``claim`` is set exactly when there is no owner yet (every row may claim, the sticky ``X`` rows
never do). ``hand_back`` is set only by the kill switch, override and fallback rows, when python
owns the issue.
Ownership is sticky: an owner keeps acting whatever the mode or the percentage says, until the
kill switch (or a fallback decision) hands python's issues back to typescript. ``ovr`` is the
break-glass override (``FlagSnapshot.override``: a rollback made while Unleash was down); it
acts as the kill switch whatever the flags say, even when none can be read. A snapshot whose
mode is ``emergency_rollback`` is treated like the kill switch. Flags served from the cache
(Unleash unreachable, last known flags) are not degraded; the reason says "(cached flags)".
"""

from __future__ import annotations

from dataclasses import dataclass

from flags.model import Mode, System
from flags.source import FlagSnapshot, Freshness

__all__ = ["Decision", "route"]

_CACHED_NOTE = " (cached flags)"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of routing one issue.

    ``claim``: there is no owner yet, the caller records ``acting`` as the owner.
    ``hand_back``: python owns the issue and must give it back to typescript (its in-flight work
    is cancelled). ``degraded``: a fallback decision, because a flag could not be read.
    """

    acting: System
    shadow: System | None
    mode: Mode
    reason: str
    degraded: bool
    claim: bool
    hand_back: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "acting": self.acting.value,
            "shadow": self.shadow.value if self.shadow is not None else None,
            "mode": self.mode.value,
            "reason": self.reason,
            "degraded": self.degraded,
            "claim": self.claim,
            "hand_back": self.hand_back,
        }


def route(snapshot: FlagSnapshot, owner: System | None) -> Decision:
    """Decide who acts on an issue with these flags and this owner (see the module's table)."""
    note = _CACHED_NOTE if snapshot.freshness is Freshness.CACHED else ""
    problem = snapshot.problem or "no detail"
    if snapshot.override:
        why = "kill switch on (break-glass override, not yet in Unleash): typescript acts"
        return _to_typescript(owner, Mode.EMERGENCY_ROLLBACK, why, "", degraded=False)
    if snapshot.kill_switch is True or snapshot.mode is Mode.EMERGENCY_ROLLBACK:
        why = "kill switch on: emergency rollback, typescript acts"
        return _to_typescript(owner, Mode.EMERGENCY_ROLLBACK, why, note, degraded=False)
    if snapshot.invalid is not None:
        return _hold(snapshot.mode, owner, snapshot.invalid, note)
    if snapshot.kill_switch is None or snapshot.mode is None:
        why = f"flags unreadable ({problem}): typescript acts"
        return _to_typescript(owner, Mode.TYPESCRIPT_ONLY, why, note, degraded=True)
    mode, degraded = snapshot.mode, False
    if owner is not None:
        acting, why = owner, f"sticky: {owner} owns the issue and acts"
    elif mode is Mode.TYPESCRIPT_ONLY or mode is Mode.PYTHON_ONLY:
        acting = System.TYPESCRIPT if mode is Mode.TYPESCRIPT_ONLY else System.PYTHON
        why = f"{acting} acts"
    elif snapshot.python_rollout is None:  # gradual or parallel, rollout flag unreadable
        acting, degraded = System.TYPESCRIPT, True
        why = f"rollout flag unreadable ({problem}): typescript acts"
    elif snapshot.python_rollout:
        acting, why = System.PYTHON, "issue in python's rollout: python acts"
    else:
        acting, why = System.TYPESCRIPT, "issue outside python's rollout: typescript acts"
    shadow = acting.other if mode is Mode.PARALLEL else None
    watched = f", {shadow} shadows" if shadow is not None else ""
    return Decision(
        acting=acting,
        shadow=shadow,
        mode=mode,
        reason=f"{mode}: {why}{watched}{note}",
        degraded=degraded,
        claim=owner is None,
        hand_back=False,
    )


def _hold(mode: Mode | None, owner: System | None, invalid: str, note: str) -> Decision:
    """Misconfigured flags: nothing moves. The owner keeps its issue; a new one goes to
    typescript; no shadow, no hand-back."""
    acting = owner or System.TYPESCRIPT
    who = f"{owner} keeps the issue" if owner is not None else "new issue to typescript"
    return Decision(
        acting=acting,
        shadow=None,
        mode=mode or Mode.TYPESCRIPT_ONLY,
        reason=f"flags misconfigured ({invalid}): holding, {who}{note}",
        degraded=True,
        claim=owner is None,
        hand_back=False,
    )


def _to_typescript(
    owner: System | None, mode: Mode, why: str, note: str, *, degraded: bool
) -> Decision:
    """Typescript acts alone; python's ownership, if any, is handed back."""
    hand_back = owner is System.PYTHON
    handed = "; python's ownership handed back" if hand_back else ""
    return Decision(
        acting=System.TYPESCRIPT,
        shadow=None,
        mode=mode,
        reason=f"{why}{handed}{note}",
        degraded=degraded,
        claim=owner is None,
        hand_back=hand_back,
    )
