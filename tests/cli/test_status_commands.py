"""``switchyard status`` reads the health monitor's last results (it does not probe behind the
monitor's lease); it probes, recording nothing, only when there are none or with ``--probe``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from service.devtools.child_processes import free_port
from service.health.monitor import HealthMonitor, read_health
from tests.processes import run_cli, switchyard_env

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(stack_env: dict[str, str], prefix: str, tmp_path: Path) -> dict[str, str]:
    return switchyard_env(stack_env, prefix=prefix, cache_dir=tmp_path / "flag-cache")


async def test_status_shows_the_monitors_last_results_and_probes_only_when_asked(
    cli_env: dict[str, str], redis_client: Redis, prefix: str
) -> None:
    # The monitor's last round saw Unleash down; the real Unleash is up (a probe would say so).
    async with httpx.AsyncClient() as http:
        monitor = HealthMonitor(
            redis=redis_client,
            http=http,
            prefix=prefix,
            urls={"unleash": f"http://127.0.0.1:{free_port()}"},
        )
        await monitor.check()
    read = (await run_cli("status", "--json", env=cli_env)).json()
    assert read["health"]["unleash"]["healthy"] is False
    assert read["health"]["unleash"]["detail"] == "ConnectError"
    assert "health_probed" not in read
    probed = (await run_cli("status", "--probe", "--json", env=cli_env)).json()
    assert probed["health"]["unleash"]["healthy"] is True
    assert probed["health"]["unleash"]["detail"] == "HTTP 200"
    assert probed["health_probed"] is True
    recorded = await read_health(redis_client, prefix=prefix)
    assert recorded["unleash"]["history"] == 1  # neither command recorded a round
    assert recorded["unleash"]["healthy"] is False


async def test_status_probes_when_the_monitor_has_recorded_nothing_and_records_nothing(
    cli_env: dict[str, str], redis_client: Redis, prefix: str
) -> None:
    shown = await run_cli("status", env=cli_env)
    assert shown.code == 0, shown.stderr
    assert "Health (probed now by this command, not recorded):" in shown.stdout
    assert "redis       healthy" in shown.stdout
    assert await read_health(redis_client, prefix=prefix) == {}
