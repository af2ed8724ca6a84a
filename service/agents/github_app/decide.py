"""Where one App's delivery goes: a pure function of what it is about and who owns the issue.

=====================================  =====================================================
the delivery is about                  it is forwarded to the hook's App
=====================================  =====================================================
nothing routable                       its webhook URL (``act``), always
an issue (or a PR/CI event linked to   its webhook URL when that App acts on the issue;
one), routed or owned                  its shadow URL when it is the shadow (parallel mode)
                                       and has a shadow URL; nowhere otherwise
a PR/CI event whose linked issues      nowhere (no App may act on an issue nobody owns)
have no owner
=====================================  =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flags.model import System

__all__ = ["Role", "Target", "target_for"]


class Role(StrEnum):
    ACT = "act"
    SHADOW = "shadow"


@dataclass(frozen=True, slots=True)
class Target:
    """Forward to ``url`` in ``role``; ``why`` says why (also when ``url`` is None: withheld)."""

    role: Role | None
    url: str | None
    why: str


def target_for(
    *,
    hook: System,
    routable: bool,
    acting: System | None,
    shadow: System | None,
    webhook_url: str,
    shadow_url: str | None,
) -> Target:
    """``routable``: the delivery is about an issue; ``acting``/``shadow``: the decision for
    that issue (``acting`` None: nobody owns it)."""
    if not routable:
        return Target(Role.ACT, webhook_url, "not about an issue: every App sees it")
    if acting is None:
        return Target(None, None, "linked issues have no owner")
    if acting is hook:
        return Target(Role.ACT, webhook_url, f"{hook} acts on the issue")
    if shadow is hook:
        if shadow_url is None:
            return Target(None, None, f"{hook} is the shadow but has no shadow webhook URL")
        return Target(Role.SHADOW, shadow_url, f"{hook} is the shadow")
    return Target(None, None, f"{acting} acts on the issue")
