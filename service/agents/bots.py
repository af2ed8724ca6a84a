"""What the worker needs for systems that are not job APIs: one bundle, passed as ``bots``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flags.model import System
from service.agents.github_app.forward import WebhookForwarder
from service.agents.triggers.guard import TriggerGuard
from service.outcomes.from_github import GitHubOutcomes
from service.system_kinds import SystemSettings

__all__ = ["BotSupport"]


@dataclass(frozen=True, slots=True)
class BotSupport:
    """``forwarder``: the gate of ``github-app`` systems (their own hooks' deliveries);
    ``triggers``: ``github-label`` / ``github-assignee`` triggers; ``outcomes``: the outcomes of
    systems that cannot call back, from GitHub's events."""

    systems: Mapping[System, SystemSettings]
    forwarder: WebhookForwarder | None = None
    triggers: TriggerGuard | None = None
    outcomes: GitHubOutcomes | None = None
