"""``switchyard demo --exit-when-done`` plays a rollout plan on the real stack as real processes
(service, two workers, the watchdog, two simulated agents, a notification receiver): the plan
advances on python's evidence, python degrades, the watchdog rolls back, and every notification
reaches the receiver once with a valid signature."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from service.keys import Keys
from service.migration.control import read_state
from service.plan.store import PlanStore
from tests.processes import run_cli, switchyard_env

pytestmark = pytest.mark.integration

# The smallest plan with two advances: python's share near half, so both sides gather samples.
STEPS = ("--steps", "50,60,75,100", "--degrade-at", "75", "--batch", "30", "--dwell", "1")


async def test_demo_plays_the_plan_and_the_watchdog_rolls_back(
    stack_env: dict[str, str],
    flags_reset: UnleashAdmin,
    redis_client: Redis,
    prefix: str,
    tmp_path: Path,
) -> None:
    env = switchyard_env(stack_env, prefix=prefix, cache_dir=tmp_path / "flag-cache")
    args = ("demo", "--exit-when-done", "--pace", "0", "--latency-ms", "50", *STEPS, "--json")
    result = await run_cli(*args, "--log-dir", str(tmp_path / "logs"), env=env, within=240)
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()

    # the plan moved the rollout in Unleash step by step, on its own evidence
    steps = report["steps"]
    assert [step["unleash_rollout"] for step in steps] == [50, 60, 75]
    advanced = [step for step in steps if step.get("advanced")]
    assert len(advanced) == 2
    for step in advanced:
        assert step["source"] == "plan" and step["advanced_by"].startswith("plan ")
        assert step["tests"]["success_rate"]["passed"] is True
        assert step["routed_python"] > 0 and step["routed_typescript"] > 0
    store = PlanStore(redis_client, prefix=prefix)
    record = await store.load()
    assert record is not None and record.state.status.value == "rolled_back"
    assert (record.state.step, record.state.expected_rollout) == (2, 75)
    events = Counter(entry["event"] for entry in await store.timeline(200))
    assert (events["started"], events["advanced"], events["rolled_back"]) == (1, 2, 1)

    # the watchdog rolled back
    assert report["rolled_back"] is True and report["plan_status"] == "rolled_back"
    rollback = report["rollback"]
    assert (rollback["source"], rollback["actor"]) == ("watchdog", "demo-watchdog")
    assert rollback["evidence"]["metric"] and rollback["evidence"]["samples"] > 0
    assert (await read_state(flags_reset)).kill_switch is True  # in Unleash itself
    after = report["after_rollback"]
    assert after["python_owned"] > 0 and after["python_owned_after"] == 0
    assert after["acting_python"] == 0 and after["acting_typescript"] == after["routed"]

    # every notification published reached the receiver once, signed
    keys = Keys(prefix)
    raw_events = await redis_client.hgetall(keys.notify_events)
    published = {key: json.loads(value) for key, value in raw_events.items()}
    notes = report["notifications"]
    received = [event["id"] for event in notes["received"]]
    assert sorted(received) == sorted(published) and len(set(received)) == len(received)
    assert notes["bad_signatures"] == 0
    assert notes["deliveries"] == len(received) + notes["repeats_dropped"]
    raw_deliveries = await redis_client.hgetall(keys.notify_deliveries)
    deliveries = [json.loads(value) for value in raw_deliveries.values()]
    assert {d["status"] for d in deliveries} == {"delivered"}
    kinds = Counter(event["kind"] for event in published.values())
    assert kinds == Counter(notes["by_kind"])
    assert (kinds["plan_started"], kinds["plan_advanced"], kinds["plan_rolled_back"]) == (1, 2, 1)
    assert kinds["watchdog_rollback"] == 1
    assert ">> notification plan_advanced" in result.stderr  # printed as they arrived
