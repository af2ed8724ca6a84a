"""Fixtures of the reliability cases: process environment, agent simulators, GitHub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from flags.model import System
from tests.conftest import RunningService
from tests.pipeline.test_worker import Sims
from tests.processes import agent_processes, switchyard_env
from tests.reliability.ledger import GitHub


@pytest.fixture
def env(stack_env: dict[str, str], prefix: str, tmp_path: Path) -> dict[str, str]:
    """What a ``switchyard`` process of this case runs with: the stack, the case's prefix."""
    return switchyard_env(stack_env, prefix=prefix, cache_dir=tmp_path / "flag-cache")


@pytest.fixture
async def agents(env: dict[str, str], tmp_path: Path) -> AsyncIterator[Sims]:
    """Both agent systems as ``switchyard simulate-agent`` processes."""
    async with agent_processes(env, tmp_path) as sims:
        yield sims


@pytest.fixture
def worker_env(env: dict[str, str], agents: Sims, service: RunningService) -> dict[str, str]:
    """Workers that dispatch to the simulators, with completions called back to the service."""
    return {
        **env,
        "SWITCHYARD_URL": service.url,
        "SWITCHYARD_TYPESCRIPT_URL": agents.urls[System.TYPESCRIPT],
        "SWITCHYARD_PYTHON_URL": agents.urls[System.PYTHON],
    }


@pytest.fixture
async def github(service: RunningService) -> AsyncIterator[GitHub]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64)) as http:
        yield GitHub([service.url], service.settings.require_webhook_secret(), http)
