"""``switchyard plan ...`` as real processes: bad plans refused naming the field (exit 2) and
changing nothing, four eyes (exit 1), the whole life of a plan with ``--json``; a plan started
and paused here reaches both receivers once, delivered by the watchdog process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from service.migration.control import read_state
from service.notify.outbox import Outbox
from service.plan.store import PlanStore
from service.plan.users import token_hash
from tests.notify.receiver import SECRET, running_receiver
from tests.pipeline.test_worker import eventually
from tests.processes import process, run_cli, switchyard_env

pytestmark = pytest.mark.integration


@pytest.fixture
def env(stack_env: dict[str, str], prefix: str, tmp_path: Path) -> dict[str, str]:
    return switchyard_env(
        stack_env, prefix=prefix, cache_dir=tmp_path / "cache", SWITCHYARD_ACTOR="alice"
    )


BAD = [
    ({"steps": [50, 25, 100]}, "steps[1].percentage"),
    ({"margin": 0.7}, "margin"),
    ({"windows": {"hours": "9 to 5"}}, "windows.hours"),
]


async def test_a_bad_plan_is_refused_naming_the_field_and_changes_nothing(
    env: dict[str, str],
    flags_reset: UnleashAdmin,
    redis_client: Redis,
    prefix: str,
    tmp_path: Path,
) -> None:
    before = await read_state(flags_reset)
    for plan, field in BAD:
        path = tmp_path / "plan.json"
        path.write_text(json.dumps(plan))
        result = await run_cli("plan", "start", "--file", str(path), "--reason", "go", env=env)
        assert result.code == 2
        assert f"plan refused: {field}: " in result.stderr
    flags = ("--dwell", "-5", "--steps", "10,100")
    result = await run_cli("plan", "start", *flags, "--reason", "go", env=env)
    assert result.code == 2 and "steps[0].min_dwell_seconds: must be" in result.stderr
    assert await PlanStore(redis_client, prefix=prefix).load() is None
    assert await read_state(flags_reset) == before


async def test_a_plan_from_start_to_abort(env: dict[str, str], flags_reset: UnleashAdmin) -> None:
    status = await run_cli("plan", "status", env=env)
    assert status.code == 1 and "no plan has been started" in status.stderr
    started = await run_cli(
        "plan", "start", "--file", "flags/plan.json", "--steps", "20,60,100",
        "--approval-at", "20", "--dwell", "0", "--reason", "go", "--json", env=env,
    )  # fmt: skip
    record = started.json()
    assert [s["percentage"] for s in record["plan"]["steps"]] == [20, 60, 100]
    assert record["plan"]["steps"][0]["gate"] == "approval"
    assert record["plan"]["windows"]["hours"] == "09:00-16:00"  # the rest from the file
    assert (record["state"]["status"], record["started_by"]) == ("running", "alice")
    state = await read_state(flags_reset)
    assert (state.mode.value, state.rollout) == ("gradual", 20)
    again = await run_cli("plan", "start", "--reason", "twice", env=env)
    assert again.code == 1 and "already running" in again.stderr
    own = await run_cli("plan", "approve", "--reason", "me", env=env)
    assert own.code == 1 and "four eyes" in own.stderr
    bob = {**env, "SWITCHYARD_ACTOR": "bob"}
    approved = (await run_cli("plan", "approve", "--reason", "ok", "--json", env=bob)).json()
    assert approved["state"]["approvals"] == {"0": "bob"}
    paused = (await run_cli("plan", "pause", "--reason", "lunch", "--json", env=bob)).json()
    assert (paused["state"]["status"], paused["state"]["note"]) == ("paused", "by bob: lunch")
    text = await run_cli("plan", "status", env=env)
    assert text.code == 0 and "paused" in text.stdout and "[>] 20% (approval)" in text.stdout
    assert (await run_cli("plan", "resume", "--reason", "back", env=env)).code == 0
    aborted = (await run_cli("plan", "abort", "--reason", "done", "--json", env=env)).json()
    assert aborted["state"]["status"] == "aborted"
    assert [e["event"] for e in aborted["timeline"]] == [
        "aborted", "resumed", "paused", "approved", "started",
    ]  # fmt: skip
    audit = (await run_cli("audit", "--json", env=env)).json()
    assert [e["actor"] for e in audit if e["change"] == "plan_approved"] == ["bob"]


async def test_with_a_users_file_people_act_as_themselves_within_their_role(
    env: dict[str, str], flags_reset: UnleashAdmin, tmp_path: Path
) -> None:
    users = tmp_path / "users.json"
    people = [("alice", "operator"), ("bob", "approver"), ("vera", "viewer")]
    entries = [{"name": n, "role": r, "token_sha256": token_hash(f"{n}-t")} for n, r in people]
    users.write_text(json.dumps({"users": entries}))

    def person(name: str) -> dict[str, str]:
        return {**env, "SWITCHYARD_USERS_FILE": str(users), "SWITCHYARD_TOKEN": f"{name}-t"}

    stranger = await run_cli("plan", "status", env={**person("x"), "SWITCHYARD_ACTOR": "alice"})
    assert stranger.code == 1 and "matches no one" in stranger.stderr
    started = await run_cli(
        "plan", "start", "--steps", "10,100", "--approval-at", "10",
        "--reason", "go", "--json", env={**person("alice"), "SWITCHYARD_ACTOR": "bob"},
    )  # fmt: skip
    assert started.json()["started_by"] == "alice"  # the token's name, not SWITCHYARD_ACTOR
    viewer = await run_cli("plan", "pause", "--reason", "x", env=person("vera"))
    assert viewer.code == 1 and "vera is a viewer" in viewer.stderr
    own = await run_cli("plan", "approve", "--reason", "x", env=person("alice"))
    assert own.code == 1 and "approver role" in own.stderr
    approved = await run_cli("plan", "approve", "--reason", "ok", "--json", env=person("bob"))
    assert approved.json()["state"]["approvals"] == {"0": "bob"}


async def test_plan_commands_notify_each_receiver_once_through_the_watchdog(
    env: dict[str, str], flags_reset: UnleashAdmin, redis_client: Redis, prefix: str, tmp_path: Path
) -> None:
    go = ("--steps", "10,100", "--dwell", "3600", "--reason", "go")
    assert (await run_cli("plan", "start", *go, env=env)).code == 0
    assert (await run_cli("plan", "pause", "--reason", "lunch", env=env)).code == 0
    outbox = Outbox(redis_client, prefix=prefix)
    kinds = {"plan_started", "plan_paused"}
    ours = [r for r in await outbox.recent() if r["event"]["kind"] in kinds]
    assert [r["receiver"] for r in ours] == ["*", "*"]  # published, for whoever delivers
    async with running_receiver() as (own, url):
        receivers = {
            "SWITCHYARD_NOTIFY_WEBHOOK_URL": f"{url}/hook",
            "SWITCHYARD_NOTIFY_WEBHOOK_SECRET": SECRET.reveal(),
            "SWITCHYARD_SLACK_WEBHOOK_URL": f"{url}/slack",
        }
        watchdog = ("watchdog", "--interval", "0.5", "--name", "wd-notify")
        async with process(*watchdog, env={**env, **receivers}, log=tmp_path / "wd.log"):

            async def delivered() -> bool:
                rows = [r for r in await outbox.recent() if r["event"]["kind"] in kinds]
                return len(rows) == 4 and all(r["status"] == "delivered" for r in rows)

            await eventually(delivered, what="both events at both receivers", within=60)
    mine = {i: e for i, e in own.events.items() if e["kind"] in kinds}
    assert sorted(e["kind"] for e in mine.values()) == sorted(kinds)
    assert all(own.accepted[i] == 1 and e["actor"] == "alice" for i, e in mine.items())
    assert own.bad_signatures == 0
    slack = [text for text in own.slack if "(by alice)" in text]
    assert len(slack) == 2 and any("paused" in text and "lunch" in text for text in slack)
