"""The scripted migration ``switchyard demo`` plays, narrating what it sees.

Phases: typescript only; parallel (python in shadow); gradual at each rollout step; then the
python agent's quality drops and the demo keeps sending issues until the watchdog (its own
process) turns the kill switch on; finally new events of python-owned issues show routing
handing them back to typescript. Every change goes through :class:`MigrationControl`, the code
the CLI and the dashboard use; every number comes from the service's ``/migration/status``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from flags.model import Mode, System
from flags.transitions import Actor, ActorKind
from service.devtools.demo_report import (
    DemoPlan,
    DemoReport,
    comparison_lines,
    completed,
    delta,
    percent,
    quality_samples,
)
from service.devtools.webhook_sender import (
    WebhookSender,
    check_suite_delivery,
    issue_delivery,
    pull_request_closed_delivery,
)
from service.errors import DemoFailed
from service.migration.control import MigrationControl

__all__ = ["FLAG_POLL_SECONDS", "Demo", "DemoFailed", "DemoPlan", "DemoReport"]

FLAG_POLL_SECONDS = 1  # how often the demo's processes poll Unleash

DEMO_ACTOR = Actor(name="demo", kind=ActorKind.HUMAN, source="demo")


class Demo:
    def __init__(
        self,
        *,
        plan: DemoPlan,
        http: httpx.AsyncClient,
        service_url: str,
        sender: WebhookSender,
        control: MigrationControl,
        agent_urls: dict[System, str],
        say: Callable[[str], None],
    ) -> None:
        self._plan = plan
        self._http = http
        self._service = service_url.rstrip("/")
        self._sender = sender
        self._control = control
        self._agents = {system: url.rstrip("/") for system, url in agent_urls.items()}
        self._rng = random.Random(plan.seed)  # noqa: S311 -- reviewers' dice, not a secret
        self._reviewed: set[str] = set()
        self._sent_quality = 0
        self._say = say
        self._next_issue = 1
        self._sent_acting = 0
        self._sent_shadow = 0
        self._issues: list[int] = []
        self.report = DemoReport()

    async def status(self) -> dict[str, Any]:
        response = await self._http.get(f"{self._service}/migration/status?window=1h")
        response.raise_for_status()
        status: dict[str, Any] = response.json()
        return status

    async def run(self) -> DemoReport:
        plan = self._plan
        steps = len(plan.rollout_steps) + 4
        await self._phase(f"1/{steps} typescript only", Mode.TYPESCRIPT_ONLY, None)
        await self._phase(f"2/{steps} parallel, python in shadow", Mode.PARALLEL, None)
        for index, percentage in enumerate(plan.rollout_steps, start=3):
            await self._phase(f"{index}/{steps} gradual {percentage}%", Mode.GRADUAL, percentage)
        await self._degrade(f"{steps - 1}/{steps} python degrades")
        await self._hand_back(f"{steps}/{steps} after the rollback")
        return self.report

    async def _send_issues(self, count: int, *, shadow: bool) -> None:
        for _ in range(count):
            number = self._next_issue
            self._next_issue += 1
            self._issues.append(number)
            status = await self._sender.send(
                issue_delivery(repository=self._plan.repository, number=number)
            )
            if status != 202:
                raise DemoFailed(f"the service answered {status} to issue #{number}'s delivery")
            self._sent_acting += 1
            self._sent_shadow += shadow
            await asyncio.sleep(self._plan.pace_seconds)

    async def _propagated(self, mode: Mode, percentage: int | None) -> None:
        """Wait until the service routes with the new flags, then one more poll of every process.

        The change is broadcast at once, but a loaded worker may still route the next event
        with the flags it held; the demo's processes also poll every second, so two seconds
        after the service shows the change every worker has fetched it too.
        """
        deadline = time.monotonic() + self._plan.settle_seconds
        while True:
            status = await self.status()
            if status.get("mode") == mode.value and (
                percentage is None or status.get("rollout_percentage") == percentage
            ):
                break
            if time.monotonic() > deadline:
                raise DemoFailed(f"the service does not route with mode {mode.value} yet")
            await asyncio.sleep(0.25)
        await asyncio.sleep(2 * FLAG_POLL_SECONDS)

    async def _settled(self) -> dict[str, Any]:
        """Wait until every acting (and shadow) job sent so far has completed."""
        deadline = time.monotonic() + self._plan.settle_seconds
        while True:
            status = await self.status()
            acting, shadow = completed(status, shadow=False), completed(status, shadow=True)
            quality = quality_samples(status)
            if (
                acting >= self._sent_acting
                and shadow >= self._sent_shadow
                and quality >= self._sent_quality
            ):
                return status
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"only {acting}/{self._sent_acting} acting and {shadow}/{self._sent_shadow} "
                    f"shadow completions and {quality}/{self._sent_quality} PR and CI results "
                    "arrived; see the worker and agent logs"
                )
            await asyncio.sleep(0.25)

    async def _phase(self, title: str, mode: Mode, percentage: int | None) -> None:
        plan = self._plan
        state = await self._control.state()
        if state.mode is not mode:
            await self._control.set_mode(mode, actor=DEMO_ACTOR, reason=f"demo: {title}")
        if percentage is not None:
            await self._control.set_rollout(percentage, actor=DEMO_ACTOR, reason=f"demo: {title}")
        await self._propagated(mode, percentage)
        before = (await self.status())["routing"]
        self._say(f"\n== phase {title}: sending {plan.issues_per_phase} new issues")
        await self._send_issues(plan.issues_per_phase, shadow=mode is Mode.PARALLEL)
        await self._settled()
        await self._review()
        status = await self._settled()
        routing = status["routing"]
        to_python = delta(routing, before, "acting:python")
        to_typescript = delta(routing, before, "acting:typescript")
        shadowed = delta(routing, before, "shadow:python")
        comparison = status["comparison"]
        self._say(
            f"   routed: typescript {to_typescript}, python {to_python}"
            + (f", python in shadow {shadowed}" if shadowed else "")
        )
        for line in comparison_lines(comparison):
            self._say(line)
        if mode is Mode.PARALLEL:
            mismatch = comparison["python"]["shadow_mismatch_rate"]
            self._say(f"   shadow mismatches:  {percent(mismatch)}")
        self._say(f"   owners now: {status['owners']}")
        self.report.phases.append(
            {
                "phase": title,
                "mode": mode.value,
                "rollout_percentage": percentage,
                "routed_typescript": to_typescript,
                "routed_python": to_python,
                "shadow_python": shadowed,
                "owners": status["owners"],
            }
        )

    async def _review(self) -> None:
        """Reviewers and CI act on the new pull requests: a merge or a close, a CI result."""
        plan = self._plan
        for index, system in enumerate(System):
            response = await self._http.get(f"{self._agents[system]}/_jobs")
            response.raise_for_status()
            merge, build = plan.merge_rates[index], plan.build_rates[index]
            for job in response.json():
                if job["pr_number"] is None or job["job_id"] in self._reviewed:
                    continue
                self._reviewed.add(job["job_id"])
                common = {
                    "repository": job["repository"],
                    "pr_number": job["pr_number"],
                    "issue_number": job["issue_number"],
                }
                passed = self._rng.random() < build
                merged = passed and self._rng.random() < min(1.0, merge / build)  # red CI: no merge
                for delivery in (
                    check_suite_delivery(**common, passed=passed),
                    pull_request_closed_delivery(**common, merged=merged),
                ):
                    status = await self._sender.send(delivery)
                    if status != 202:
                        raise DemoFailed(f"the service answered {status} to a {delivery.event}")
                    self._sent_quality += 1

    async def _degrade(self, title: str) -> None:
        plan = self._plan
        response = await self._http.post(
            f"{self._agents[System.PYTHON]}/_control", json={"success_rate": plan.degraded_success}
        )
        response.raise_for_status()
        self._say(
            f"\n== phase {title}: the python agent now succeeds {plan.degraded_success:.0%} of "
            "the time; sending issues until the watchdog acts"
        )
        sent = 0
        deadline = time.monotonic() + plan.settle_seconds
        while True:
            status = await self.status()
            if status.get("kill_switch"):
                break
            if sent >= plan.max_degraded_issues or time.monotonic() > deadline:
                raise DemoFailed(
                    f"the watchdog did not roll back after {sent} issues with python degraded; "
                    f"its state: {status.get('watchdog')}"
                )
            await self._send_issues(plan.degraded_batch, shadow=False)
            sent += plan.degraded_batch
            python = status["comparison"]["python"]["success_rate"]
            verdict = status["watchdog"].get("verdict", "no verdict yet")
            self._say(f"   sent {sent}: python success {percent(python)}; watchdog: {verdict}")
            await asyncio.sleep(0.5)
        rollback = next(
            (e for e in status["recent_transitions"] if e["change"] == "rollback"), None
        )
        self.report.rolled_back = True
        self.report.rollback = rollback
        self._say(f"   kill switch ON after {sent} degraded issues")
        if rollback is not None:
            evidence = rollback.get("evidence") or {}
            self._say(f"   by {rollback['actor']} ({rollback['source']}): {rollback['reason']}")
            shown = {
                k: evidence[k]
                for k in ("rule", "metric", "samples", "estimate", "interval")
                if k in evidence
            }
            self._say(f"   evidence: {shown or evidence}")

    async def _hand_back(self, title: str) -> None:
        """New events of recent issues: python's are handed back, typescript acts on all."""
        before = (await self.status())["routing"]
        recent = self._issues[-self._plan.handed_back_sample :]
        self._say(f"\n== phase {title}: new events on {len(recent)} recent issues")
        for number in recent:
            delivery = issue_delivery(
                repository=self._plan.repository, number=number, action="edited"
            )
            status_code = await self._sender.send(delivery)
            if status_code != 202:
                raise DemoFailed(f"the service answered {status_code} to an edit of #{number}")
            await asyncio.sleep(self._plan.pace_seconds)
        deadline = time.monotonic() + self._plan.settle_seconds
        while True:
            status = await self.status()
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
            "handed_back": delta(routing, before, "handed_back"),
        }
        self.report.after_rollback = after
        self._say(
            f"   routed {after['routed']}: typescript acted on {after['acting_typescript']}, "
            f"python on {after['acting_python']}; {after['handed_back']} python-owned issues "
            "handed back to typescript"
        )
        self._say(
            f"   owners now: {status['owners']} (python keeps issues with no new event yet; "
            "their next event hands them back)"
        )
