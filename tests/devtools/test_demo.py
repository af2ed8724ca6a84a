"""``switchyard demo --exit-when-done`` plays the whole migration on the real stack as real
processes (service, two workers, watchdog, two simulated agents) and its rollback happens."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from service.keys import Keys
from service.migration.control import read_state
from tests.processes import run_cli, switchyard_env

pytestmark = pytest.mark.integration


async def test_demo_plays_the_migration_and_the_watchdog_rolls_back(
    stack_env: dict[str, str],
    flags_reset: UnleashAdmin,
    redis_client: Redis,
    prefix: str,
    tmp_path: Path,
) -> None:
    env = switchyard_env(stack_env, prefix=prefix, cache_dir=tmp_path / "flag-cache")
    args = ("demo", "--exit-when-done", "--pace", "0", "--log-dir", str(tmp_path / "logs"))
    result = await run_cli(*args, "--json", env=env, within=240)
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()

    phases = {phase["mode"]: phase for phase in report["phases"]}
    first, parallel = report["phases"][0], phases["parallel"]
    assert (first["routed_typescript"], first["routed_python"]) == (20, 0)
    assert (parallel["routed_python"], parallel["shadow_python"]) == (0, 20)
    gradual = [phase for phase in report["phases"] if phase["mode"] == "gradual"]
    assert [phase["rollout_percentage"] for phase in gradual] == [10, 25, 50, 75]
    assert sum(phase["routed_python"] for phase in gradual) > 0

    assert report["rolled_back"] is True
    rollback = report["rollback"]
    assert (rollback["source"], rollback["actor"]) == ("watchdog", "demo-watchdog")
    assert rollback["evidence"]["metric"] and rollback["evidence"]["samples"] > 0
    assert (await read_state(flags_reset)).kill_switch is True  # in Unleash itself

    after = report["after_rollback"]
    assert after["acting_python"] == 0 and after["acting_typescript"] == after["routed"]
    assert after["handed_back"] > 0
    assert "phase 7/8 python degrades" in result.stderr  # the narration went to stderr
    assert await redis_client.exists(Keys(prefix).audit)  # the demo wrote under its prefix
