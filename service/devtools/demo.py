"""The rollout plan ``switchyard demo`` plays, narrating what it sees.

The demo starts a compressed plan (:meth:`DemoPlan.rollout_plan`: the real plan and controller,
with a dwell of seconds and small samples) and then only sends traffic: new issues in rounds,
reviewers and CI acting on the pull requests. The watchdog process (its own, under its lease)
advances the plan step by step when python's own evidence shows it no worse than typescript;
each step's percentage is read back from Unleash. Once the plan reaches ``degrade_at``, the
python agent's quality drops and the demo keeps sending issues until the watchdog turns the kill
switch on and the plan stops, rolled back; new events of python-owned issues then show routing
handing them back to typescript. The notifications (plan started, held, advanced, rolled back,
the watchdog's rollback) reach a local receiver that prints each once as it arrives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from flags.model import Mode
from flags.transitions import Actor, ActorKind
from service.devtools.demo_report import DemoPlan, DemoReport, delta, evidence_line, percent
from service.devtools.demo_traffic import FLAG_POLL_SECONDS, Traffic
from service.devtools.notify_receiver import NotificationReceiver
from service.errors import DemoFailed
from service.escape import escape
from service.migration.control import MigrationControl
from service.notify.outbox import Outbox
from service.plan.actions import PlanActions
from service.plan.decision import Status
from service.plan.store import PlanRecord, PlanStore

__all__ = ["DEMO_ACTOR", "FLAG_POLL_SECONDS", "Demo", "DemoFailed", "DemoPlan", "DemoReport"]

DEMO_ACTOR = Actor(name="demo", kind=ActorKind.HUMAN, source="demo")
_TICK_WAIT = 30.0  # longest wait for the watchdog's next plan tick


class Demo:
    def __init__(
        self,
        *,
        plan: DemoPlan,
        traffic: Traffic,
        control: MigrationControl,
        store: PlanStore,
        outbox: Outbox,
        receiver: NotificationReceiver,
        say: Callable[[str], None],
    ) -> None:
        self._plan = plan
        self._traffic = traffic
        self._control = control
        self._store = store
        self._outbox = outbox
        self._receiver = receiver
        self._say = say
        self.report = DemoReport()

    async def run(self) -> DemoReport:
        steps = self._plan.steps
        if self._plan.degrade_at not in steps[1:-1]:
            raise DemoFailed(f"degrade_at must be one of the middle steps {steps[1:-1]}")
        await self._start()
        degrade = steps.index(self._plan.degrade_at)
        for index in range(degrade):
            await self._step(index)
        await self._degrade(degrade)
        await self._hand_back()
        await self._notifications()
        await self._summary()
        return self.report

    async def _record(self) -> PlanRecord:
        record = await self._store.load()
        if record is None:
            raise DemoFailed("the plan is gone from Redis")
        return record

    async def _start(self) -> None:
        plan = self._plan
        self._say(
            f"\n== a rollout plan: steps {', '.join(f'{p}%' for p in plan.steps)}; each step "
            f"needs {plan.dwell_seconds:g} s, {plan.min_completions} acting python completions, "
            f"{plan.min_outcomes} PR/CI outcomes, and python no worse than typescript by "
            f"{plan.margin:g} (compressed for the demo: flags/plan.json asks a day, 200 "
            "completions and 0.05)"
        )
        actions = PlanActions(store=self._store, control=self._control)
        record = await actions.start(
            plan.rollout_plan(), actor=DEMO_ACTOR, reason="demo: python takes over, on evidence"
        )
        self.report.plan_id = record.id
        self._say(f"   plan {record.id} started by {record.started_by}; the watchdog runs it")

    async def _ticked(self, after: float) -> PlanRecord:
        """The plan as the watchdog's first tick after ``after`` left it."""
        deadline = time.monotonic() + _TICK_WAIT
        while True:
            record = await self._record()
            if (record.last_tick or 0) > after or record.state.status.over:
                return record
            if time.monotonic() > deadline:
                raise DemoFailed("the watchdog has not ticked the plan; see its log")
            await asyncio.sleep(0.2)

    async def _enter(self, index: int) -> dict[str, Any]:
        """Announce the step with the rollout Unleash holds; wait until the service routes
        with it."""
        percentage = self._plan.steps[index]
        unleash = await self._control.state()
        self._say(
            f"\n== step {index + 1}/{len(self._plan.steps)}: Unleash rollout {unleash.rollout}% "
            f"(mode {unleash.mode.value})"
        )
        self.report.steps.append(
            {"step": index + 1, "percentage": percentage, "unleash_rollout": unleash.rollout}
        )
        return await self._traffic.propagated(Mode.GRADUAL, percentage)

    async def _step(self, index: int) -> None:
        """Rounds of issues until the plan leaves the step: python's own evidence moves it."""
        plan, traffic = self._plan, self._traffic
        before = (await self._enter(index))["routing"]
        sent = 0
        while True:
            record = await self._record()
            if record.state.step > index:
                break
            if record.state.status is not Status.RUNNING:
                raise DemoFailed(f"the plan is {record.state.status.value}: {record.state.note}")
            if sent >= plan.max_issues_per_step:
                raise DemoFailed(f"the plan did not advance after {sent} issues: see its status")
            await traffic.send_issues(plan.batch)
            sent += plan.batch
            await traffic.review()  # the pull requests opened so far; the rest next round
            await traffic.settled()
            record = await self._ticked(time.time())
            decision = record.last_decision or {}
            if record.state.step == index:
                self._say(f"   {sent} issues: {escape(decision.get('reason', ''), limit=240)}")
        routing = (await traffic.status())["routing"]
        advanced = await self._advance_entry(index + 1)
        tests = (advanced.get("evidence") or {}).get("tests", {})
        self._say(f"   {sent} issues: advanced by {advanced.get('actor', '?')}, on:")
        for name, test in tests.items():
            self._say(f"     {evidence_line(name, test)}")
        self.report.steps[-1] |= {
            "issues": sent,
            "routed_python": delta(routing, before, "acting:python"),
            "routed_typescript": delta(routing, before, "acting:typescript"),
            "advanced": True,
            "advanced_by": advanced.get("actor"),
            "source": advanced.get("source"),
            "tests": tests,
        }

    async def _advance_entry(self, step: int) -> dict[str, Any]:
        """The timeline's entry of the advance to ``step``: the plan claims the step first, then
        writes the flags to Unleash, then the entry."""
        deadline = time.monotonic() + _TICK_WAIT
        while True:
            for entry in await self._store.timeline(200):
                if entry.get("event") == "advanced" and entry.get("step") == step:
                    return entry
            if time.monotonic() > deadline:
                raise DemoFailed(f"no 'advanced' entry for step {step + 1} in the plan's timeline")
            await asyncio.sleep(0.2)

    async def _degrade(self, index: int) -> None:
        plan, traffic = self._plan, self._traffic
        await self._enter(index)
        await traffic.set_python(success_rate=plan.degraded_success)
        self._say(
            f"   the python agent now succeeds {plan.degraded_success:.0%} of the time; "
            "sending issues until the watchdog acts"
        )
        sent = 0
        deadline = time.monotonic() + plan.settle_seconds
        owned = 0
        while True:
            status = await traffic.status()
            if status.get("kill_switch"):
                break
            owned = int(status["owners"].get("python", 0))
            if sent >= plan.max_degraded_issues or time.monotonic() > deadline:
                raise DemoFailed(
                    f"the watchdog did not roll back after {sent} issues with python degraded; "
                    f"its state: {status.get('watchdog')}"
                )
            await traffic.send_issues(plan.degraded_batch)
            sent += plan.degraded_batch
            python = status["comparison"]["python"]["success_rate"]
            verdict = status["watchdog"].get("verdict", "no verdict yet")
            self._say(f"   sent {sent}: python success {percent(python)}; watchdog: {verdict}")
            await asyncio.sleep(0.5)
        self._say(f"   kill switch ON after {sent} degraded issues")
        rollback = next(
            (e for e in status["recent_transitions"] if e["change"] == "rollback"), None
        )
        self.report.rolled_back = True
        self.report.rollback = rollback
        self.report.after_rollback = {"python_owned": owned}
        self.report.steps[-1] |= {"issues": sent, "advanced": False, "degraded": True}
        if rollback is not None:
            evidence = rollback.get("evidence") or {}
            self._say(f"   by {rollback['actor']} ({rollback['source']}): {rollback['reason']}")
            shown = {
                k: evidence[k]
                for k in ("rule", "metric", "samples", "estimate", "interval")
                if k in evidence
            }
            self._say(f"   evidence: {shown or evidence}")
        record = await self._ticked(time.time())
        self.report.plan_status = record.state.status.value
        self._say(f"   the plan: {record.state.status.value}: {escape(record.state.note)}")

    async def _hand_back(self) -> None:
        """Python's issues go back to typescript (the workers' rollback sweep, or their next
        event); new events of recent issues are all acted on by typescript."""
        traffic, plan = self._traffic, self._plan
        deadline = time.monotonic() + plan.settle_seconds
        while (await traffic.status())["owners"].get("python", 0):
            if time.monotonic() > deadline:
                raise DemoFailed("python still owns issues after the rollback; see worker logs")
            await asyncio.sleep(0.25)
        before = (await traffic.status())["routing"]
        recent = traffic.issues[-plan.handed_back_sample :]
        self._say(
            f"\n== after the rollback: python owned {self.report.after_rollback['python_owned']} "
            f"issues, now none; new events on {len(recent)} recent issues"
        )
        await traffic.send_edits(recent)
        while True:
            status = await traffic.status()
            routing = status["routing"]
            if delta(routing, before, "total") >= len(recent):
                break
            if time.monotonic() > deadline:
                raise DemoFailed("the edits were not all routed; see the worker log")
            await asyncio.sleep(0.25)
        after = {
            "routed": delta(routing, before, "total"),
            "acting_typescript": delta(routing, before, "acting:typescript"),
            "acting_python": delta(routing, before, "acting:python"),
            "python_owned_after": int(status["owners"].get("python", 0)),
        }
        self.report.after_rollback |= after
        self._say(
            f"   routed {after['routed']}: typescript acted on {after['acting_typescript']}, "
            f"python on {after['acting_python']}; owners now: {status['owners']}"
        )

    async def _notifications(self) -> None:
        """Wait until every published notification was delivered to the receiver."""
        deadline = time.monotonic() + self._plan.settle_seconds
        while True:
            rows = await self._outbox.recent(10_000)
            published = {row["event"]["id"] for row in rows}
            received = {event.id for event in self._receiver.events}
            waiting = [row for row in rows if row["status"] != "delivered"]
            if not waiting and published <= received:
                break
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"{len(published - received)} of {len(published)} notifications never "
                    f"reached the receiver: {[row['status'] for row in waiting]}"
                )
            await asyncio.sleep(0.25)
        receiver = self._receiver
        self.report.notifications = {
            "published": len(published),
            "received": [event.as_dict() for event in receiver.events],
            "deliveries": sum(receiver.deliveries.values()),
            "repeats_dropped": receiver.duplicates,
            "bad_signatures": receiver.bad_signatures,
            "by_kind": receiver.counts(),
        }

    async def _summary(self) -> None:
        report, say = self.report, self._say
        comparison = (await self._traffic.status())["comparison"]
        advanced = [step for step in report.steps if step.get("advanced")]
        path = " -> ".join(f"{step['unleash_rollout']}%" for step in report.steps)
        notes = report.notifications
        say(f"\n== summary of plan {report.plan_id}: {report.plan_status}")
        say(f"   Unleash rollout: {path} ({len(advanced)} advances on python's own evidence)")
        say(
            "   acting completions: "
            + ", ".join(
                f"{system} {comparison[system]['success_rate']['n']}"
                for system in ("python", "typescript")
            )
        )
        say(
            f"   notifications: {notes['published']} published, {len(notes['received'])} "
            f"received once each ({notes['deliveries']} signed deliveries, "
            f"{notes['repeats_dropped']} repeats dropped, {notes['bad_signatures']} bad "
            "signatures)"
        )
        say(
            "   by kind: "
            + ", ".join(f"{kind} {count}" for kind, count in sorted(notes["by_kind"].items()))
        )
