"""What kind of agent system each system is, and how Switchyard reaches it.

A system's kind comes from ``SWITCHYARD_<SYSTEM>_KIND`` (``TYPESCRIPT`` or ``PYTHON``):

==================  =========================================================================
``job-api``         the default: Switchyard's job API and a signed completion callback
``github-app``      a GitHub App with its own webhook: its deliveries arrive at
                    ``POST /webhooks/github/{system}`` (signed with ``..._WEBHOOK_SECRET``) and
                    are forwarded, re-signed, to ``..._WEBHOOK_URL`` only when it should act
                    (to ``..._SHADOW_WEBHOOK_URL`` when it is the shadow in parallel mode)
``github-label``    a bot triggered by the label ``..._TRIGGER`` on the issue
``github-assignee`` a bot triggered by assigning the issue to ``..._TRIGGER``
==================  =========================================================================

A ``github-app`` system may also name its App (``..._APP_ID`` and ``..._APP_PRIVATE_KEY`` or
``..._APP_PRIVATE_KEY_FILE``): the delivery reconciler then lists that App's own webhook
deliveries with the App's JWT and redelivers what Switchyard missed
(:mod:`service.github.reconciler`).

``..._BOT_LOGIN`` names the system's GitHub account (its pull requests and comments are its
outcomes when it cannot call back). Only :meth:`service.settings.Settings.from_env` calls
:func:`read_system_settings`; nothing else reads the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from flags.model import System
from flags.secret import Secret
from service.github.api.auth import AppCredentials

__all__ = [
    "SYSTEM_ENV_VARS",
    "AgentKind",
    "SystemSettings",
    "read_system_settings",
    "system_variable",
]


class AgentKind(StrEnum):
    JOB_API = "job-api"
    GITHUB_APP = "github-app"
    GITHUB_LABEL = "github-label"
    GITHUB_ASSIGNEE = "github-assignee"

    @property
    def calls_back(self) -> bool:
        """Whether the system reports its outcome itself (else it comes from GitHub)."""
        return self is AgentKind.JOB_API


# The per-system variables (``SWITCHYARD_<SYSTEM>_<SUFFIX>``) and what they mean.
SYSTEM_ENV_VARS: dict[str, str] = {
    "KIND": "job-api (default), github-app, github-label or github-assignee.",
    "WEBHOOK_SECRET": "github-app: the App's webhook secret (verifies and re-signs).",
    "WEBHOOK_URL": "github-app: the App's real webhook endpoint, where deliveries go on.",
    "SHADOW_WEBHOOK_URL": "github-app: a deployment of the App that cannot write (parallel mode).",
    "APP_ID": "github-app: the App's id, to reconcile its own webhook's deliveries.",
    "APP_PRIVATE_KEY": "github-app: the App's PEM private key (signs its JWT).",
    "APP_PRIVATE_KEY_FILE": "github-app: a file holding the App's PEM private key.",
    "BOT_LOGIN": "The system's GitHub account; its PRs and comments are its outcomes.",
    "TRIGGER": "github-label: the trigger label; github-assignee: the login to assign.",
    "FAILURE_MARKER": "Text in a bot comment that counts as failure (no callback kinds).",
}


def system_variable(system: System, suffix: str) -> str:
    """``SWITCHYARD_PYTHON_WEBHOOK_URL`` for (python, ``WEBHOOK_URL``)."""
    return f"SWITCHYARD_{system.value.upper()}_{suffix}"


@dataclass(frozen=True, kw_only=True)
class SystemSettings:
    """How one system is reached; secrets are hidden from ``repr``."""

    system: System
    kind: AgentKind = AgentKind.JOB_API
    webhook_secret: Secret | None = None
    webhook_url: str | None = None
    shadow_webhook_url: str | None = None
    app: AppCredentials | None = None  # github-app: the App, to reconcile its hook's deliveries
    bot_login: str | None = None
    trigger: str | None = None
    failure_marker: str | None = None


def read_system_settings(
    env: Mapping[str, str],
    system: System,
    *,
    url: Callable[[Mapping[str, str], str], str],
    problem: Callable[[str, str], Exception],
) -> SystemSettings:
    """The settings of ``system``; ``url`` checks a URL variable, ``problem`` builds the error
    naming a bad variable (both from :mod:`service.settings`)."""

    def name(suffix: str) -> str:
        return system_variable(system, suffix)

    def text(suffix: str) -> str | None:
        return env.get(name(suffix), "").strip() or None

    raw_kind = text("KIND") or AgentKind.JOB_API.value
    try:
        kind = AgentKind(raw_kind.lower())
    except ValueError:
        choices = ", ".join(kind.value for kind in AgentKind)
        raise problem(name("KIND"), f"must be one of {choices}, got {raw_kind!r}") from None
    secret = env.get(name("WEBHOOK_SECRET"), "")
    webhook_url = url(env, name("WEBHOOK_URL")) if text("WEBHOOK_URL") else None
    shadow_url = url(env, name("SHADOW_WEBHOOK_URL")) if text("SHADOW_WEBHOOK_URL") else None
    trigger = text("TRIGGER")
    if kind is AgentKind.GITHUB_APP and webhook_url is None:
        raise problem(name("WEBHOOK_URL"), "is required when the system's kind is github-app")
    if kind in (AgentKind.GITHUB_LABEL, AgentKind.GITHUB_ASSIGNEE) and trigger is None:
        raise problem(name("TRIGGER"), f"is required when the system's kind is {kind}")
    return SystemSettings(
        system=system,
        kind=kind,
        webhook_secret=Secret(secret) if secret else None,
        webhook_url=webhook_url,
        shadow_webhook_url=shadow_url,
        app=_app(env, system, kind, problem),
        bot_login=text("BOT_LOGIN"),
        trigger=trigger,
        failure_marker=text("FAILURE_MARKER"),
    )


def _app(
    env: Mapping[str, str],
    system: System,
    kind: AgentKind,
    problem: Callable[[str, str], Exception],
) -> AppCredentials | None:
    """The system's App credentials (``..._APP_ID`` with its private key), or None."""
    id_name = system_variable(system, "APP_ID")
    key_name = system_variable(system, "APP_PRIVATE_KEY")
    file_name = system_variable(system, "APP_PRIVATE_KEY_FILE")
    app_id = env.get(id_name, "").strip()
    key = env.get(key_name, "")
    key_file = env.get(file_name, "").strip()
    if not app_id:
        if key or key_file:
            raise problem(id_name, f"is required with {key_name if key else file_name}")
        return None
    if kind is not AgentKind.GITHUB_APP:
        raise problem(id_name, f"is only used when the system's kind is github-app, not {kind}")
    if not app_id.isascii() or not app_id.isdigit():
        raise problem(id_name, f"must be a number, got {app_id[:40]!r}")
    if not key and key_file:
        try:
            key = Path(key_file).read_text(encoding="utf-8")
        except OSError as error:
            raise problem(file_name, f"cannot read {key_file!r}: {error}") from None
    if not key.strip():
        raise problem(key_name, f"is required with {id_name} (or {file_name})")
    return AppCredentials(app_id=app_id, private_key=Secret(key))
