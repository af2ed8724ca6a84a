"""The dashboard's actions, as calls to the same
:class:`~service.migration.control.MigrationControl` the
CLI uses: switch the mode, set the rollout percentage, emergency rollback, leave the rollback.

:func:`read_form` reads a small url-encoded form (the dashboard's forms, or ``curl -d``);
:func:`perform` checks the fields and makes the change. A refused change raises
:class:`~flags.transitions.TransitionRefused` (the transition table's reason), a malformed one
:class:`ActionInvalid`.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

from flags.model import Mode
from flags.transitions import Actor
from service.errors import ActionInvalid, UnsupportedMediaType
from service.migration.control import ChangeResult, MigrationControl
from service.web.body import read_body

__all__ = ["ACTIONS", "ActionInvalid", "describe", "perform", "read_form"]

ACTIONS = ("mode", "rollout", "rollback", "leave-rollback")
_MAX_FORM_BYTES = 16 * 1024
_MAX_REASON = 500


async def read_form(request: Request) -> dict[str, str]:
    """The form's fields (the last value of each); nothing but url-encoded, at most 16 KiB."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("send the form as application/x-www-form-urlencoded")
    async with read_body(request, limit=_MAX_FORM_BYTES) as body:
        pass
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise UnsupportedMediaType("the form is not valid url-encoded UTF-8") from None
    return {name: values[-1] for name, values in fields.items()}


def _reason(form: dict[str, str]) -> str:
    reason = " ".join(form.get("reason", "").split())
    if not reason:
        raise ActionInvalid("a reason is required for every change")
    return reason[:_MAX_REASON]


def _mode(form: dict[str, str], field: str) -> Mode:
    value = form.get(field, "")
    if value not in {mode.value for mode in Mode.variants()}:
        raise ActionInvalid(f"{field} must be one of the modes, got {value!r}")
    return Mode(value)


def _percentage(form: dict[str, str]) -> int:
    raw = form.get("percentage", "").strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 0 <= int(raw) <= 100:
        raise ActionInvalid(f"percentage must be a whole number 0..100, got {raw!r}")
    return int(raw)


async def perform(
    control: MigrationControl, action: str, form: dict[str, str], *, actor: Actor
) -> ChangeResult:
    """Make the change ``action`` (one of :data:`ACTIONS`) asks for, as ``actor``."""
    reason = _reason(form)
    if action == "mode":
        force = form.get("force") in ("on", "1", "true", "yes")
        return await control.set_mode(_mode(form, "mode"), actor=actor, reason=reason, force=force)
    if action == "rollout":
        return await control.set_rollout(_percentage(form), actor=actor, reason=reason)
    if action == "rollback":
        if form.get("confirm") != "yes":
            raise ActionInvalid("tick the box to confirm the emergency rollback")
        return await control.rollback(actor=actor, reason=reason)
    if action == "leave-rollback":
        return await control.leave_rollback(_mode(form, "mode"), actor=actor, reason=reason)
    raise ActionInvalid(f"unknown action {action!r}")


def describe(action: str, result: ChangeResult) -> str:
    """One line for the page: what changed, or that nothing had to."""
    if result.override or result.unrecorded:
        return result.summary()
    if not result.changed:
        return f"No change: already {result.after_text}."
    names = {
        "mode": "Mode switched",
        "rollout": "Rollout set",
        "rollback": "Emergency rollback: kill switch ON",
        "leave-rollback": "Left emergency rollback",
    }
    return f"{names.get(action, action)}: {result.before_text} → {result.after_text}."
