"""The agent system of each kind, and the worker's bot support, from the settings.

=====================  =================================================================
kind                   client
=====================  =================================================================
``job-api``            :class:`TypeScriptAgent` / :class:`PythonAgent` at ``..._URL``
``github-app``         :class:`GatedApp` (its deliveries go through the gate)
``github-label``       :class:`TriggerAgent` over the GitHub client (``SWITCHYARD_GITHUB_*``)
``github-assignee``    :class:`TriggerAgent` likewise
=====================  =================================================================
"""

from __future__ import annotations

from flags.model import System
from service.agents.bots import BotSupport
from service.agents.github_app.forward import WebhookForwarder
from service.agents.github_app.gated import GatedApp
from service.agents.protocol import AgentSystem
from service.agents.python_client import PythonAgent
from service.agents.triggers.agent import TriggerAgent
from service.agents.triggers.guard import TriggerGuard
from service.agents.typescript_client import TypeScriptAgent
from service.github.api.client import GitHubClient
from service.outcomes.from_github import GitHubOutcomes
from service.pipeline.retry import RetryPolicy
from service.runtime import Runtime
from service.settings import SettingsError
from service.system_kinds import AgentKind

__all__ = ["build_agents", "build_bots"]

_TRIGGERED = (AgentKind.GITHUB_LABEL, AgentKind.GITHUB_ASSIGNEE)


def _outcomes(runtime: Runtime) -> GitHubOutcomes:
    settings = runtime.settings
    return GitHubOutcomes(
        runtime.redis,
        prefix=runtime.prefix,
        systems=settings.systems,
        deadline_seconds=settings.outcome_deadline_seconds,
    )


def _agent(system: System, runtime: Runtime, timeout: float) -> AgentSystem:
    settings = runtime.settings
    config, http = settings.systems[system], runtime.http
    if config.kind is AgentKind.GITHUB_APP and config.webhook_url is not None:
        return GatedApp(system=system, webhook_url=config.webhook_url, http=http)
    if config.trigger is not None and config.kind in _TRIGGERED:
        if settings.github_credentials is None:
            raise SettingsError(
                "SWITCHYARD_GITHUB_TOKEN",
                f"{system} is a {config.kind} system: set a token or the App's credentials",
            )
        github = GitHubClient(
            http=http, credentials=settings.github_credentials, base_url=settings.github_api_url
        )
        return TriggerAgent(
            system=system,
            kind=config.kind,
            trigger=config.trigger,
            github=github,
            redis=runtime.redis,
            prefix=runtime.prefix,
            outcomes=_outcomes(runtime),
        )
    url = settings.typescript_url if system is System.TYPESCRIPT else settings.python_url
    if url is None:
        variable = f"SWITCHYARD_{system.value.upper()}_URL"
        raise SettingsError(variable, "is required for the worker but not set")
    client = TypeScriptAgent if system is System.TYPESCRIPT else PythonAgent
    return client(base_url=url, http=http, timeout=timeout)


def build_agents(runtime: Runtime, *, timeout: float) -> dict[System, AgentSystem]:
    """One client per system, by its kind (``SWITCHYARD_<SYSTEM>_KIND``)."""
    return {system: _agent(system, runtime, timeout) for system in System}


def build_bots(
    runtime: Runtime, agents: dict[System, AgentSystem], *, policy: RetryPolicy, timeout: float
) -> BotSupport:
    """The gate, the trigger guard and the GitHub-event outcomes the settings call for."""
    settings = runtime.settings
    triggered = {s: a for s, a in agents.items() if isinstance(a, TriggerAgent)}
    guard = TriggerGuard(
        agents=triggered, redis=runtime.redis, prefix=runtime.prefix, policy=policy
    )
    silent = any(not config.kind.calls_back for config in settings.systems.values())
    return BotSupport(
        systems=settings.systems,
        forwarder=WebhookForwarder(http=runtime.http, timeout=timeout),
        triggers=guard if triggered else None,
        outcomes=_outcomes(runtime) if silent else None,
    )
