"""The plan's errors, in the service's one tree (:mod:`service.errors`)."""

from __future__ import annotations

from service.errors import SwitchyardError

__all__ = ["PlanConflict", "PlanForbidden", "PlanInvalid"]


class PlanInvalid(SwitchyardError, status=400):
    """A plan (file, CLI flags or form) is malformed; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class PlanConflict(SwitchyardError, status=409):
    """The action does not fit the plan's state: none running, one already running, ..."""


class PlanForbidden(SwitchyardError, status=403):
    """The actor may not do this: the starter approving their own plan, a viewer acting."""
