"""Flags as code: create Switchyard's context fields, flags and webhook addon in Unleash.

Provisioning is idempotent and conservative. It creates what is missing and leaves every live
value alone: a rollout percentage, a mode or a kill-switch state someone set in the Unleash UI
survives a second run. ``reset=True`` forces the defaults (rollout 0 %, mode
``typescript_only``, kill switch off) for the flags' values, and is what tests and a fresh demo use.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from flags.admin_api import Json, UnleashAdmin
from flags.model import (
    CONTEXT_ISSUE_NUMBER,
    CONTEXT_REPOSITORY,
    KILL_SWITCH_FLAG,
    MODE_FLAG,
    ROLLOUT_FLAG,
    Mode,
)
from flags.secret import Secret

__all__ = [
    "ADDON_DESCRIPTION",
    "ADDON_EVENTS",
    "EVENTS_SECRET_HEADER",
    "ProvisionReport",
    "mode_strategy",
    "provision",
    "rollout_strategy",
]

EVENTS_SECRET_HEADER = "X-Switchyard-Unleash-Secret"  # noqa: S105 (a header name)
ADDON_DESCRIPTION = "switchyard: refetch flags the moment they change"
ADDON_EVENTS = [
    "feature-created",
    "feature-updated",
    "feature-archived",
    "feature-revived",
    "feature-environment-enabled",
    "feature-environment-disabled",
    "feature-strategy-add",
    "feature-strategy-update",
    "feature-strategy-remove",
    "feature-variants-updated",
    "feature-environment-variants-updated",
    "feature-metadata-updated",
]

_CONTEXT_FIELDS: list[Json] = [
    {
        "name": CONTEXT_ISSUE_NUMBER,
        "description": "GitHub issue number; the stickiness of python-agent-rollout",
        "stickiness": True,
        "legalValues": [],
    },
    {
        "name": CONTEXT_REPOSITORY,
        "description": "GitHub repository as owner/name, for constraints",
        "stickiness": False,
        "legalValues": [],
    },
]

_FLAGS: list[tuple[str, str, str, bool]] = [
    # name, Unleash type, description, enabled by default
    (
        KILL_SWITCH_FLAG,
        "kill-switch",
        "On = emergency rollback: every issue goes to the TypeScript system.",
        False,
    ),
    (
        MODE_FLAG,
        "operational",
        "The migration mode is the variant's name: "
        "typescript_only, python_only, parallel, gradual.",
        True,
    ),
    (
        ROLLOUT_FLAG,
        "release",
        "Share of issues (by issueNumber) the Python system acts on in gradual and parallel modes.",
        True,
    ),
]


def rollout_strategy(percentage: int) -> Json:
    """The flexibleRollout of ``python-agent-rollout``, sticky on the issue number."""
    return {
        "name": "flexibleRollout",
        "title": "python share",
        "constraints": [],
        "parameters": {
            "rollout": str(percentage),
            "stickiness": CONTEXT_ISSUE_NUMBER,
            "groupId": ROLLOUT_FLAG,
        },
        "variants": [],
        "segments": [],
        "disabled": False,
    }


def mode_strategy(mode: Mode) -> Json:
    """The strategy of ``migration-mode``: everyone, with the mode as its one variant."""
    return {
        "name": "flexibleRollout",
        "title": "mode",
        "constraints": [],
        "parameters": {"rollout": "100", "stickiness": "default", "groupId": MODE_FLAG},
        "variants": [
            {"name": mode.value, "weight": 1000, "weightType": "variable", "stickiness": "default"}
        ],
        "segments": [],
        "disabled": False,
    }


def _kill_switch_strategy() -> Json:
    return {
        "name": "default",
        "title": "everyone",
        "constraints": [],
        "parameters": {},
        "segments": [],
        "disabled": False,
    }


_DEFAULT_STRATEGIES: dict[str, Json] = {
    KILL_SWITCH_FLAG: _kill_switch_strategy(),
    MODE_FLAG: mode_strategy(Mode.TYPESCRIPT_ONLY),
    ROLLOUT_FLAG: rollout_strategy(0),
}


@dataclass
class ProvisionReport:
    """What a provisioning run did; ``changes`` is empty when nothing had to change."""

    changes: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def changed(self, what: str) -> None:
        self.changes.append(what)

    def kept(self, what: str) -> None:
        self.unchanged.append(what)

    def as_dict(self) -> dict[str, Any]:
        return {"changes": self.changes, "unchanged": self.unchanged}


def _addon_spec(*, url: str, secret: Secret, project: str, environment: str) -> Json:
    # Unleash masks an addon's parameters when it lists them, so the description carries a
    # fingerprint of what was written: a changed URL or secret changes the fingerprint.
    material = json.dumps([url, secret.reveal(), ADDON_EVENTS, project, environment])
    fingerprint = hashlib.sha256(material.encode()).hexdigest()[:16]
    return {
        "provider": "webhook",
        "enabled": True,
        "description": f"{ADDON_DESCRIPTION} [{fingerprint}]",
        "events": ADDON_EVENTS,
        "projects": [project],
        "environments": [environment],
        "parameters": {
            "url": url,
            "contentType": "application/json",
            "customHeaders": json.dumps({EVENTS_SECRET_HEADER: secret.reveal()}),
        },
    }


async def _provision_context(admin: UnleashAdmin, report: ProvisionReport) -> None:
    for spec in _CONTEXT_FIELDS:
        if await admin.get_context_field(spec["name"]) is None:
            await admin.create_context_field(spec)
            report.changed(f"context field {spec['name']} created")
        else:
            report.kept(f"context field {spec['name']}")


async def _provision_flag(
    admin: UnleashAdmin, report: ProvisionReport, flag: tuple[str, str, str, bool], reset: bool
) -> None:
    name, kind, description, enabled = flag
    created = False
    if await admin.get_feature(name) is None:
        await admin.create_feature(name=name, kind=kind, description=description)
        report.changed(f"flag {name} created ({kind})")
        created = True
    strategies = await admin.strategies(name)
    default = _DEFAULT_STRATEGIES[name]
    if not strategies:
        await admin.add_strategy(name, default)
        report.changed(f"flag {name}: strategy added in {admin.environment}")
    elif reset:
        await admin.update_strategy(name, str(strategies[0]["id"]), default)
        report.changed(f"flag {name}: strategy reset to defaults")
    if created or reset:
        if await admin.is_enabled(name) != enabled:
            await admin.set_enabled(name, enabled)
            report.changed(f"flag {name}: {'on' if enabled else 'off'} in {admin.environment}")
    if not created and not reset and strategies:
        report.kept(f"flag {name} (live values kept)")


async def _provision_addon(
    admin: UnleashAdmin, report: ProvisionReport, *, service_url: str, secret: Secret
) -> None:
    url = f"{service_url.rstrip('/')}/unleash/events"
    spec = _addon_spec(url=url, secret=secret, project=admin.project, environment=admin.environment)
    for addon in await admin.addons():
        description = str(addon.get("description") or "")
        if addon.get("provider") != "webhook" or not description.startswith(ADDON_DESCRIPTION):
            continue
        if description == spec["description"] and addon.get("enabled") is True:
            report.kept(f"webhook addon -> {url}")
        else:
            await admin.update_addon(int(addon["id"]), spec)
            report.changed(f"webhook addon updated -> {url}")
        return
    await admin.create_addon(spec)
    report.changed(f"webhook addon created -> {url}")


async def provision(
    admin: UnleashAdmin, *, service_url: str, events_secret: Secret, reset: bool = False
) -> ProvisionReport:
    """Bring Unleash to the state DESIGN.md describes; idempotent unless ``reset``."""
    report = ProvisionReport()
    await _provision_context(admin, report)
    for flag in _FLAGS:
        await _provision_flag(admin, report, flag, reset)
    await _provision_addon(admin, report, service_url=service_url, secret=events_secret)
    return report
