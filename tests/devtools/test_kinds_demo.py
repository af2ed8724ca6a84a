"""``switchyard demo-kinds``: a gated GitHub App (typescript) and a label-triggered bot (python)
as real processes on the real stack, with the GitHub stand-in as GitHub."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from service.migration.audit import AuditTrail
from service.migration.control import read_state
from tests.processes import run_cli, switchyard_env

pytestmark = pytest.mark.integration


async def test_demo_kinds_routes_each_issue_to_one_kind_and_measures_from_github(
    stack_env: dict[str, str],
    flags_reset: UnleashAdmin,
    redis_client: Redis,
    prefix: str,
    tmp_path: Path,
) -> None:
    env = switchyard_env(stack_env, prefix=prefix, cache_dir=tmp_path / "flag-cache")
    args = ("demo-kinds", "--json", "--log-dir", str(tmp_path / "logs"))
    result = await run_cli(*args, env=env, within=240)
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()
    app, labelled = set(report["app_issues"]), set(report["labelled"])
    assert app and labelled and not app & labelled and app | labelled == set(range(1, 11))
    assert report["sources"]["python"].startswith("GitHub: PRs opened by fixer[bot]")
    assert report["sources"]["typescript"].startswith("GitHub: PRs opened by legacy-app[bot]")
    assert (await read_state(flags_reset)).kill_switch is True
    changes = [entry.change for entry in await AuditTrail(redis_client, prefix=prefix).recent()]
    assert "foreign_trigger_removed" in changes
