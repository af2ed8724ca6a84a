"""Every ``switchyard`` command as a real process against the running stack: ``--json`` output
parsed, exit codes scripts rely on (0 done, 1 refused, 2 configuration, 3 unreachable)."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import Issue, System
from service.devtools.child_processes import free_port
from service.migration.brake import Brake
from service.migration.control import read_state
from service.pipeline.stream import EventStream, StreamEntry
from service.routing.ownership import OwnershipStore
from tests.conftest import record_completion
from tests.processes import run_cli, switchyard_env

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(stack_env: dict[str, str], prefix: str, tmp_path: Path) -> dict[str, str]:
    cache_dir = tmp_path / "flag-cache"
    return switchyard_env(
        stack_env, prefix=prefix, cache_dir=cache_dir, SWITCHYARD_ACTOR="cli-test"
    )


async def test_status_json_and_text_show_mode_owners_and_comparison(
    cli_env: dict[str, str], flags_reset: UnleashAdmin, redis_client: Redis, prefix: str
) -> None:
    await OwnershipStore(redis_client, prefix=prefix).claim(
        Issue("acme/app", 3), System.PYTHON, reason="test"
    )
    for number in range(1, 6):
        await record_completion(redis_client, prefix, System.PYTHON, number, number != 5, 2.0)
    status = (await run_cli("status", "--json", env=cli_env)).json()
    assert (status["mode"], status["rollout_percentage"], status["kill_switch"]) == (
        "typescript_only",
        0,
        False,
    )
    assert status["owners"] == {"typescript": 0, "python": 1}
    assert status["comparison"]["python"]["success_rate"]["n"] == 5
    text = await run_cli("status", "--window", "1h", env=cli_env)
    assert text.code == 0, text.stderr
    assert "Migration: typescript_only, python rollout 0%" in text.stdout
    assert "success rate    80% [" in text.stdout
    assert "redis       healthy" in text.stdout


async def test_mode_rollout_rollback_and_audit_change_unleash_and_report_json(
    cli_env: dict[str, str], flags_reset: UnleashAdmin
) -> None:
    skipped = await run_cli("mode", "gradual", "--reason", "start", "--json", env=cli_env)
    assert skipped.code == 1 and "skips a step" in skipped.stderr
    changed = (
        await run_cli("mode", "parallel", "--reason", "shadow", "--json", env=cli_env)
    ).json()
    assert (changed["changed"], changed["mode"]) == (True, "parallel")
    changed = (await run_cli("mode", "gradual", "--reason", "start", "--json", env=cli_env)).json()
    assert (changed["changed"], changed["mode"]) == (True, "gradual")
    rollout = (await run_cli("rollout", "30", "--reason", "more", "--json", env=cli_env)).json()
    assert rollout["rollout"] == 30
    assert (await read_state(flags_reset)).rollout == 30

    rolled = (await run_cli("rollback", "--reason", "bad PRs", "--json", env=cli_env)).json()
    assert (rolled["kill_switch"], rolled["mode"]) == (True, "emergency_rollback")
    refused = await run_cli("mode", "python_only", "--reason", "no", "--json", env=cli_env)
    assert refused.code == 1 and "kill switch" in refused.stderr
    assert (await read_state(flags_reset)).kill_switch is True

    left = await run_cli(
        "rollback", "--leave", "--to", "gradual", "--reason", "fixed", "--json", env=cli_env
    )
    assert (left.json()["kill_switch"], left.json()["mode"]) == (False, "gradual")

    audit = (await run_cli("audit", "--limit", "10", "--json", env=cli_env)).json()
    ours = [row for row in audit if row["actor"] == "cli-test"]
    assert [row["change"] for row in ours] == [
        "leave_rollback",
        "rollback",
        "set_rollout",
        "set_mode",
        "set_mode",
    ]
    assert ours[1]["reason"] == "bad PRs"


async def test_route_explains_without_claiming(
    cli_env: dict[str, str], flags_reset: UnleashAdmin, redis_client: Redis, prefix: str
) -> None:
    owners = OwnershipStore(redis_client, prefix=prefix)
    await owners.claim(Issue("acme/app", 2), System.PYTHON, reason="test")
    result = await run_cli(
        "route", "--repository", "acme/app", "--issue", "1-4", "--json", env=cli_env
    )
    report = result.json()
    assert report["issues"] == 4
    by_issue = {row["issue"]: row for row in report["decisions"]}
    assert by_issue[2]["acting"] == "python" and by_issue[2]["owner"] == "python"
    assert by_issue[1]["acting"] == "typescript" and by_issue[1]["owner"] is None
    assert await owners.owner(Issue("acme/app", 1)) is None  # explained, not claimed
    bad = await run_cli("route", "--repository", "nope", "--issue", "1", env=cli_env)
    assert bad.code == 1 and "OWNER/NAME" in bad.stderr


async def test_dead_letters_and_provision_report_json(
    cli_env: dict[str, str], flags_reset: UnleashAdmin, redis_client: Redis, prefix: str
) -> None:
    stream = EventStream(redis_client, prefix=prefix)
    entry = StreamEntry("1-1", "cli-dl", "issues", received_at=0.0, body=b"{}")
    await stream.bury(entry, system="python", error="answered 500", attempts=4)
    [letter] = (await run_cli("dead-letters", "--json", env=cli_env)).json()
    assert (letter["delivery_id"], letter["attempts"]) == ("cli-dl", 4)
    report = (await run_cli("provision", "--json", env=cli_env)).json()
    assert report["changes"] == []  # provisioned already: nothing to do


async def test_rollback_with_unleash_down_pulls_the_break_glass_brake(
    cli_env: dict[str, str], flags_reset: UnleashAdmin, redis_client: Redis, prefix: str
) -> None:
    nowhere = {**cli_env, "UNLEASH_URL": f"http://127.0.0.1:{free_port()}"}
    pulled = await run_cli("rollback", "--reason", "unleash down, python bad", env=nowhere)
    assert pulled.code == 0, pulled.stderr
    assert "kill switch ON (override, not yet in Unleash)" in pulled.stdout
    assert await Brake(redis_client, prefix=prefix).engaged()
    status = await run_cli("status", env=nowhere)
    assert "kill switch ON (override, not yet in Unleash)" in status.stdout
    as_json = (await run_cli("status", "--json", env=nowhere)).json()
    assert as_json["kill_switch"] is True and as_json["override"]["pending"] is True
    audit = (await run_cli("audit", "--json", env=cli_env)).json()
    assert audit[0]["change"] == "rollback_override" and audit[0]["actor"] == "cli-test"


async def test_exit_codes_name_the_problem(cli_env: dict[str, str]) -> None:
    helped = await run_cli("status", "--help", env=cli_env)
    assert helped.code == 0 and "--json" in helped.stdout
    missing = {k: v for k, v in cli_env.items() if k != "UNLEASH_ADMIN_TOKEN"}
    unconfigured = await run_cli("rollback", "--reason", "x", env=missing)
    assert unconfigured.code == 2 and "UNLEASH_ADMIN_TOKEN" in unconfigured.stderr
    nowhere = {**cli_env, "UNLEASH_URL": f"http://127.0.0.1:{free_port()}"}
    unreachable = await run_cli("mode", "parallel", "--reason", "x", env=nowhere)
    assert unreachable.code == 3, unreachable.stderr
    no_redis = {**nowhere, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    nothing = await run_cli("rollback", "--reason", "x", env=no_redis)
    assert nothing.code == 3 and "NOT applied" in nothing.stderr
    usage = await run_cli("rollout", "--reason", "x", env=cli_env)
    assert usage.code == 2  # argparse: the percentage is missing
