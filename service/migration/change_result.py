"""What a mode change did, as the CLI, the dashboard and the watchdog report it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flags.transitions import MigrationState
from service.errors import BrakeUnavailable
from service.migration.brake import OVERRIDE_TEXT

__all__ = ["BrakeUnavailable", "ChangeResult"]


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What a change did. ``before``/``after`` are None when Unleash could not be read (the
    break-glass override); ``unrecorded`` names what could not be written (Redis down)."""

    before: MigrationState | None
    after: MigrationState | None
    changed: bool
    override: bool = False
    unrecorded: tuple[str, ...] = ()
    misconfigured: str | None = None  # the flags could not be interpreted: kill switch only

    @property
    def before_text(self) -> str:
        if self.before is not None:
            return self.before.describe()
        if self.misconfigured is not None:
            return f"flags misconfigured ({self.misconfigured})"
        return "unknown (Unleash unreachable)"

    @property
    def after_text(self) -> str:
        if self.after is not None:
            return self.after.describe()
        return "kill switch on" if self.misconfigured is not None else OVERRIDE_TEXT

    def summary(self) -> str:
        """One line: what changed (or that nothing had to), and what was not recorded."""
        if self.override:
            text = f"{OVERRIDE_TEXT}: Unleash unreachable, break-glass override set in Redis"
            if not self.changed:
                text += " (already set)"
        elif self.changed:
            text = f"{self.before_text} -> {self.after_text}"
        else:
            text = f"no change: already {self.after_text}"
        if self.unrecorded:
            text += f"; NOT recorded (Redis unreachable): {', '.join(self.unrecorded)}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "before": self.before_text,
            "after": self.after_text,
            "changed": self.changed,
            "mode": self.after.effective_mode.value if self.after else "emergency_rollback",
            "rollout": self.after.rollout if self.after else None,
            "kill_switch": self.after.kill_switch if self.after else True,
            "override": self.override,
            "unrecorded": list(self.unrecorded),
        }
