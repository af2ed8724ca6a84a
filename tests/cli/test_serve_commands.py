"""``switchyard serve`` refuses to start without a secret its endpoints need."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.devtools.child_processes import free_port
from tests.processes import run_cli, switchyard_env

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "variable",
    ["SWITCHYARD_AGENT_SECRET", "SWITCHYARD_WEBHOOK_SECRET", "SWITCHYARD_UNLEASH_EVENTS_SECRET"],
)
async def test_serve_without_a_required_secret_stops_at_start_naming_it(
    stack_env: dict[str, str], prefix: str, tmp_path: Path, variable: str
) -> None:
    env = switchyard_env(
        stack_env, prefix=prefix, cache_dir=tmp_path, SWITCHYARD_PORT=str(free_port())
    )
    env.pop(variable, None)
    result = await run_cli("serve", env=env, within=30)
    assert result.code == 2, result.stderr
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
