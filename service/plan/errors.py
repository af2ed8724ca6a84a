"""The plan's errors, in the service's one tree (:mod:`service.errors`)."""

from __future__ import annotations

from service.errors import SwitchyardError

__all__ = ["PlanConflict", "PlanForbidden", "PlanInvalid"]


class PlanInvalid(SwitchyardError):
    """A plan (file, CLI flags or form) is malformed; ``field`` names the offending field."""

    status_code = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class PlanConflict(SwitchyardError):
    """The action does not fit the plan's state: none running, one already running, ..."""

    status_code = 409


class PlanForbidden(SwitchyardError):
    """The actor may not do this: the starter approving their own plan, a viewer acting."""

    status_code = 403
