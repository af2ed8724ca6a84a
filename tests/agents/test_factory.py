"""Each system's client is built by its kind."""

from __future__ import annotations

import dataclasses

import pytest

from flags.model import System
from flags.secret import Secret
from service.agents.factory import build_agents
from service.agents.github_app.gated import GatedApp
from service.agents.python_client import PythonAgent
from service.agents.triggers.agent import TriggerAgent
from service.github.api.auth import TokenCredentials
from service.runtime import open_runtime
from service.settings import Settings, SettingsError
from service.system_kinds import AgentKind, SystemSettings

pytestmark = pytest.mark.integration

APP = SystemSettings(
    system=System.TYPESCRIPT, kind=AgentKind.GITHUB_APP, webhook_url="http://127.0.0.1:9/"
)
LABEL = SystemSettings(system=System.PYTHON, kind=AgentKind.GITHUB_LABEL, trigger="fix-me")


async def test_clients_follow_the_kinds(settings: Settings, prefix: str) -> None:
    own = dataclasses.replace(
        settings,
        redis_prefix=prefix,
        systems={System.TYPESCRIPT: APP, System.PYTHON: LABEL},
        github_credentials=TokenCredentials(token=Secret("ghp_x")),
    )
    async with open_runtime(own, role="test") as runtime:
        agents = build_agents(runtime, timeout=1.0)
        assert isinstance(agents[System.TYPESCRIPT], GatedApp)
        assert isinstance(agents[System.PYTHON], TriggerAgent)
        job_api = dataclasses.replace(own, systems={System.TYPESCRIPT: APP}, python_url="http://x")
        runtime.settings = dataclasses.replace(
            job_api,
            systems={**job_api.systems, System.PYTHON: SystemSettings(system=System.PYTHON)},
        )
        assert isinstance(build_agents(runtime, timeout=1.0)[System.PYTHON], PythonAgent)


async def test_a_trigger_kind_without_github_credentials_names_the_variable(
    settings: Settings, prefix: str
) -> None:
    own = dataclasses.replace(
        settings,
        redis_prefix=prefix,
        systems={System.TYPESCRIPT: APP, System.PYTHON: LABEL},
        github_credentials=None,
    )
    async with open_runtime(own, role="test") as runtime:
        with pytest.raises(SettingsError, match="SWITCHYARD_GITHUB_TOKEN"):
            build_agents(runtime, timeout=1.0)
