"""The plan against the real Unleash and Redis: people's actions, the controller's ticks, the
watchdog that runs it, hand changes that pause it, and the kill switch that ends it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from flags.admin_api import UnleashAdmin
from flags.model import ROLLOUT_FLAG, Mode, System
from flags.provision import rollout_strategy
from flags.transitions import Actor, ActorKind
from service.keys import Keys
from service.migration.control import MigrationControl
from service.notify.outbox import Notification, Outbox
from service.plan.actions import STARTING, PlanActions
from service.plan.controller import PlanController
from service.plan.decision import Action, Status
from service.plan.errors import PlanConflict, PlanForbidden
from service.plan.evidence import StreamFold
from service.plan.model import Plan, parse_plan
from service.plan.store import PlanStore
from service.watchdog.loop import Watchdog, WatchdogConfig
from tests.conftest import record_completion
from tests.pipeline.test_worker import eventually
from tests.processes import process, switchyard_env

pytestmark = pytest.mark.integration

ALICE = Actor("alice", ActorKind.HUMAN, "cli")
BOB = Actor("bob", ActorKind.HUMAN, "dashboard")

QUICK = parse_plan(
    {
        "steps": [
            {"percentage": 10, "min_completions": 20, "min_outcomes": 0, "min_dwell_seconds": 0},
            {"percentage": 50, "min_completions": 20, "min_outcomes": 0, "min_dwell_seconds": 0},
            {"percentage": 100, "min_dwell_seconds": 0},
        ],
        "margin": 0.3,
        "min_rate_samples": 20,
    }
)


class Recorder:
    """A receiver kept in memory: the outbox's Sender protocol, nothing faked."""

    name = "recorder"

    def __init__(self) -> None:
        self.got: list[Notification] = []

    async def send(self, event: Notification) -> str | None:
        self.got.append(event)
        return None


class Parts:
    def __init__(self, admin: UnleashAdmin, redis: Redis, prefix: str) -> None:
        self.control = MigrationControl(admin=admin, redis=redis, prefix=prefix)
        self.recorder = Recorder()
        self.outbox = Outbox(redis, prefix=prefix, senders=[self.recorder])
        self.store = PlanStore(redis, prefix=prefix, outbox=self.outbox)
        self.actions = PlanActions(store=self.store, control=self.control)
        self.controller = PlanController(
            store=self.store, control=self.control, evidence=StreamFold(redis, prefix=prefix)
        )


@pytest.fixture
def parts(flags_reset: UnleashAdmin, redis_client: Redis, prefix: str) -> Parts:
    return Parts(flags_reset, redis_client, prefix)


async def _evidence(redis: Redis, prefix: str, *, first: int, python_ok: int = 40) -> None:
    for index in range(40):
        await record_completion(redis, prefix, System.TYPESCRIPT, first + index, True)
        await record_completion(
            redis, prefix, System.PYTHON, first + 500 + index, index < python_ok
        )


async def _start(parts: Parts, plan: Plan = QUICK) -> None:
    await parts.actions.start(plan, actor=ALICE, reason="migrate")
    await asyncio.sleep(0.002)  # the evidence below is recorded after the step started


async def test_start_sets_gradual_at_the_first_step_and_refuses_a_second_plan(
    parts: Parts,
) -> None:
    await _start(parts)
    state = await parts.control.state()
    assert (state.mode, state.rollout, state.kill_switch) == (Mode.GRADUAL, 10, False)
    record = await parts.store.load()
    assert record is not None and record.started_by == "alice"
    assert record.state.status is Status.RUNNING
    with pytest.raises(PlanConflict, match="already running"):
        await parts.actions.start(QUICK, actor=BOB, reason="again")
    changes = [entry.change for entry in await parts.control.audit.recent(5)]
    assert changes == ["set_mode", "set_rollout", "plan_started"]


async def test_evidence_advances_one_step_with_its_evidence_in_the_audit(
    parts: Parts, redis_client: Redis, prefix: str
) -> None:
    await _start(parts)
    assert (await parts.controller.tick()).action is Action.HOLD  # type: ignore[union-attr]
    await _evidence(redis_client, prefix, first=1)
    decision = await parts.controller.tick()
    assert decision is not None and decision.action is Action.ADVANCE
    assert (await parts.control.state()).rollout == 50
    entries = await parts.control.audit.recent(3)
    assert [entry.change for entry in entries] == ["plan_advanced", "set_rollout", "plan_held"]
    rollout = entries[1]
    assert rollout.source == "plan" and rollout.actor.endswith("(started by alice)")
    assert rollout.evidence is not None
    assert rollout.evidence["tests"]["success_rate"]["python"] == [40, 40]
    record = await parts.store.load()
    assert record is not None and record.state.step == 1
    assert record.last_decision is not None and record.last_decision["applied"] is True
    # the new step counts from its own start: the old evidence does not advance it again
    assert (await parts.controller.tick()).action is Action.HOLD  # type: ignore[union-attr]
    assert (await parts.control.state()).rollout == 50
    await parts.outbox.deliver_due()
    got = [(event.kind, event.actor.split(" (")[0]) for event in parts.recorder.got]
    assert sorted(got) == sorted(
        [
            ("plan_started", "alice"),
            ("plan_held", f"plan {record.id}"),
            ("plan_advanced", f"plan {record.id}"),
            ("plan_held", f"plan {record.id}"),
        ]
    )
    advanced = next(e for e in parts.recorder.got if e.kind == "plan_advanced")
    assert "step 2/3 at 50%" in advanced.text
    assert advanced.details["evidence"]["tests"]["success_rate"]["passed"] is True


async def test_python_worse_holds_and_never_advances(
    parts: Parts, redis_client: Redis, prefix: str
) -> None:
    await _start(parts)
    await _evidence(redis_client, prefix, first=1, python_ok=20)
    decision = await parts.controller.tick()
    assert decision is not None and decision.action is Action.HOLD
    assert "success_rate: not yet shown within 0.3" in decision.reason
    assert (await parts.control.state()).rollout == 10


async def test_an_inconclusive_step_stalls_once_notifies_and_waits_for_a_person(
    parts: Parts, redis_client: Redis, prefix: str
) -> None:
    now = [time.time()]
    controller = PlanController(
        store=parts.store,
        control=parts.control,
        evidence=StreamFold(redis_client, prefix=prefix),
        clock=lambda: now[0],
    )
    actions = PlanActions(store=parts.store, control=parts.control, clock=lambda: now[0])
    await actions.start(QUICK, actor=ALICE, reason="migrate")
    await asyncio.sleep(0.002)
    await _evidence(redis_client, prefix, first=1, python_ok=20)  # never shown non-inferior
    held = await controller.tick()
    assert held is not None and held.action is Action.HOLD
    now[0] += QUICK.extension_seconds  # the step's deadline: no dwell, then the extension
    stalled = await controller.tick()
    assert stalled is not None and stalled.action is Action.STALL
    missing = "success_rate: not yet shown within 0.3"
    assert stalled.reason.startswith(f"inconclusive past the extension: {missing}")
    for _ in range(3):  # then it waits for a person: no loop, no new event, no advance
        now[0] += 86_400.0
        idle = await controller.tick()
        assert idle is not None and idle.action is Action.IDLE
        assert idle.reason == f"stalled, waiting for a person: {stalled.reason}"
    record = await parts.store.load()
    assert record is not None and record.state.status is Status.STALLED
    assert (await parts.control.state()).rollout == 10
    await parts.outbox.deliver_due()
    assert sorted(event.kind for event in parts.recorder.got) == [
        "plan_held",
        "plan_stalled",
        "plan_started",
    ]
    stall = next(event for event in parts.recorder.got if event.kind == "plan_stalled")
    assert f"stalled, step 1/3 at 10%: inconclusive past the extension: {missing}" in stall.text
    resumed = await actions.resume(actor=BOB, reason="two more weeks")
    assert resumed.state.status is Status.RUNNING
    assert resumed.state.deadline == now[0] + QUICK.extension_seconds
    again = await controller.tick()
    assert again is not None and again.action is Action.HOLD


async def test_a_hand_change_pauses_and_names_who_then_resume_restores_the_step(
    parts: Parts,
) -> None:
    await _start(parts)
    dave = Actor("dave", ActorKind.HUMAN, "cli")
    await parts.control.set_rollout(40, actor=dave, reason="my own idea")
    decision = await parts.controller.tick()
    assert decision is not None and decision.action is Action.PAUSE
    assert decision.reason == "rollout changed 10 -> 40 % by dave (cli): the plan pauses"
    record = await parts.store.load()
    assert record is not None and record.state.status is Status.PAUSED
    assert (await parts.controller.tick()).action is Action.IDLE  # type: ignore[union-attr]
    await parts.actions.resume(actor=BOB, reason="back to the plan")
    assert (await parts.control.state()).rollout == 10
    record = await parts.store.load()
    assert record is not None and record.state.status is Status.RUNNING


async def test_a_start_still_writing_its_flags_is_no_hand_change(
    parts: Parts, redis_client: Redis, prefix: str
) -> None:
    await _start(parts)
    record = await parts.store.load()
    assert record is not None and record.last_decision is None  # the start finished
    # as a tick sees a start between its rollout and its mode: the flags half-written
    starting = await parts.store.replace(replace(record, last_decision=dict(STARTING)))
    assert starting is not None
    await parts.control.set_rollout(30, actor=ALICE, reason="half-way")
    assert await parts.controller.tick() is None
    assert (await parts.store.load()) == starting
    later = PlanController(
        store=parts.store,
        control=parts.control,
        evidence=StreamFold(redis_client, prefix=prefix),
        clock=lambda: time.time() + 61,  # a starter that died midway: judged as it stands
    )
    decision = await later.tick()
    assert decision is not None and decision.action is Action.PAUSE


async def test_the_kill_switch_ends_the_plan_as_rolled_back(parts: Parts) -> None:
    await _start(parts)
    await parts.control.rollback(actor=BOB, reason="pager")
    decision = await parts.controller.tick()
    assert decision is not None and decision.action is Action.ROLL_BACK
    record = await parts.store.load()
    assert record is not None and record.state.status is Status.ROLLED_BACK
    assert await parts.controller.tick() is None  # over: nothing more to do
    with pytest.raises(PlanConflict, match="over"):
        await parts.actions.pause(actor=BOB, reason="late")


async def test_four_eyes_on_an_approval_gate(parts: Parts) -> None:
    gated = parse_plan({**QUICK.as_dict(), "steps": [{"percentage": 10, "gate": "approval"}, 100]})
    await _start(parts, gated)
    with pytest.raises(PlanForbidden, match="four eyes"):
        await parts.actions.approve(actor=ALICE, reason="me")
    with pytest.raises(PlanForbidden, match="approver role"):
        await parts.actions.approve(actor=BOB, reason="ok", may_approve=False)
    record = await parts.actions.approve(actor=BOB, reason="looks fine")
    assert record.state.approvals == {0: "bob"}
    audit = (await parts.control.audit.recent(1))[0]
    assert (audit.change, audit.actor, audit.source) == ("plan_approved", "bob", "dashboard")


async def test_pause_resume_abort_are_audited_with_the_person(parts: Parts) -> None:
    await _start(parts)
    await parts.actions.pause(actor=BOB, reason="release freeze")
    with pytest.raises(PlanConflict, match="reason"):
        await parts.actions.resume(actor=BOB, reason=" ")
    await parts.actions.resume(actor=BOB, reason="freeze over")
    await parts.actions.abort(actor=ALICE, reason="changed my mind")
    timeline = await parts.store.timeline()
    assert [(e["event"], e["actor"]) for e in timeline] == [
        ("aborted", "alice"),
        ("resumed", "bob"),
        ("paused", "bob"),
        ("started", "alice"),
    ]
    assert (await parts.control.state()).rollout == 10  # abort leaves the rollout alone


async def test_the_watchdog_leader_runs_the_plan_and_two_never_advance_twice(
    parts: Parts, redis_client: Redis, prefix: str, flags_reset: UnleashAdmin
) -> None:
    await _start(parts)
    await _evidence(redis_client, prefix, first=1)
    async with httpx.AsyncClient() as http:
        dogs = [
            Watchdog(
                redis=redis_client,
                http=http,
                control=parts.control,
                prefix=prefix,
                config=WatchdogConfig(name=name, interval_seconds=1),
                plan=parts.controller,
            )
            for name in ("wd-a", "wd-b")
        ]
        for _ in range(3):
            await asyncio.gather(*(dog.tick() for dog in dogs))
    advanced = [e for e in await parts.store.timeline() if e["event"] == "advanced"]
    assert len(advanced) == 1
    assert (await parts.control.state()).rollout == 50
    state = await redis_client.hgetall(dogs[0].state_key)
    assert str(state["plan"]).startswith(("advance", "hold"))


async def test_a_stale_record_cannot_be_written_twice(parts: Parts) -> None:
    await _start(parts)
    record = await parts.store.load()
    assert record is not None
    first = await parts.store.replace(record.with_state(note="one"))
    second = await parts.store.replace(record.with_state(note="two"))
    assert first is not None and second is None
    stored = await parts.store.load()
    assert stored is not None and stored.state.note == "one"
    assert stored.version == record.version + 1


async def test_the_fold_reads_only_new_entries_and_restarts_with_the_step(
    redis_client: Redis, prefix: str
) -> None:
    fold = StreamFold(redis_client, prefix=prefix)
    start = time.time()
    await record_completion(redis_client, prefix, System.PYTHON, 1, True)
    await record_completion(redis_client, prefix, System.TYPESCRIPT, 2, False)
    first = await fold.since(start)
    assert (first.python.success.trials, first.typescript.success.successes) == (1, 0)
    await record_completion(redis_client, prefix, System.PYTHON, 3, False)
    second = await fold.since(start)
    assert (second.python.success.successes, second.python.success.trials) == (1, 2)
    third = await fold.since(start)  # nothing new: the same counts, successes kept
    assert third == second
    later = await fold.since(time.time() + 1)
    assert later.python.success.trials == 0


async def test_two_watchdog_processes_advance_a_step_once(
    parts: Parts,
    redis_client: Redis,
    prefix: str,
    stack_env: dict[str, str],
    tmp_path: Path,
) -> None:
    await _start(parts)
    await _evidence(redis_client, prefix, first=1)
    env = switchyard_env(stack_env, prefix=prefix, cache_dir=tmp_path)
    state_key = Keys(prefix).watchdog_state
    async with contextlib.AsyncExitStack() as stack:
        for name in ("wd-p1", "wd-p2"):
            args = ("watchdog", "--interval", "0.5", "--name", name)
            await stack.enter_async_context(process(*args, env=env, log=tmp_path / f"{name}.log"))

        async def advanced() -> bool:
            return any(e["event"] == "advanced" for e in await parts.store.timeline())

        await eventually(advanced, what="the plan to advance", within=60)
        ticks: set[str] = set()

        async def more_ticks() -> bool:  # both keep ticking past the advance
            ticks.add(str(await redis_client.hget(state_key, "last_tick")))
            return len(ticks) >= 4

        await eventually(more_ticks, what="four more watchdog ticks", within=60)
    events = [e["event"] for e in await parts.store.timeline()]
    assert events.count("advanced") == 1
    rollouts = [e for e in await parts.control.audit.recent(20) if e.change == "set_rollout"]
    assert [e.after for e in rollouts] == ["gradual at 50%", "typescript_only at 10%"]
    assert (await parts.control.state()).rollout == 50


async def test_a_change_made_in_unleash_directly_pauses_and_names_its_author(
    parts: Parts, flags_reset: UnleashAdmin
) -> None:
    await _start(parts)
    strategy = (await flags_reset.strategies(ROLLOUT_FLAG))[0]
    await flags_reset.update_strategy(ROLLOUT_FLAG, strategy["id"], rollout_strategy(35))
    decision = await parts.controller.tick()
    assert decision is not None and decision.action is Action.PAUSE
    assert decision.reason.startswith("rollout changed 10 -> 35 % by ")
    assert decision.reason.endswith(" (unleash): the plan pauses")
    timeline = await parts.store.timeline(1)
    assert timeline[0]["event"] == "paused" and "(unleash)" in timeline[0]["reason"]
